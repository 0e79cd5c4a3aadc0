// Small behaviours on top of furo.

// Printing: folded blocks (dropdowns, "What the tests prove", answers) print open.
window.addEventListener("beforeprint", () => {
  document.querySelectorAll("details").forEach((d) => { d.open = true; });
});

// Narrow screens: an inline formula wider than its paragraph scrolls in its own
// box instead of running off the page (display formulas already do).
function fitInlineMath() {
  document.querySelectorAll('article mjx-container:not([display="true"])').forEach((m) => {
    const box = m.parentElement.closest("p, li, td, dd, div");
    if (!box) return;
    const wide = m.getBoundingClientRect().width > box.clientWidth;
    m.classList.toggle("math-scrolls", wide);
  });
}
window.addEventListener("load", () => {
  const mj = window.MathJax;
  const ready = mj && mj.startup && mj.startup.promise ? mj.startup.promise : Promise.resolve();
  ready.then(() => {
    fitInlineMath();
    document.documentElement.dataset.mathFitted = "yes";  // the browser tests wait for it
  });
});
window.addEventListener("resize", fitInlineMath);
