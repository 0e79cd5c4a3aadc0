// Printing: folded blocks (dropdowns, "What the tests prove", answers) print open.
window.addEventListener("beforeprint", () => {
  document.querySelectorAll("details").forEach((d) => { d.open = true; });
});
