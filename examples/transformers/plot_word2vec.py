"""
Word embeddings with skip-gram (Word2Vec)
=========================================

Skip-gram with negative sampling (:mod:`snippets.transformers.word2vec`)
learns a vector for every word of the Python reference manual from one
question: is this word really near that one, or was it drawn at random?
Ninety percent of the text trains it; the last ten percent, never seen in
training, measures it. The bar, on pairs of words that really occur within
two positions of each other in the held-out text: the true neighbour must
outscore an impostor drawn from the words' own frequencies in at least 0.60
of the pairs. A model that ignores the center word is right on half of them
in expectation (the frequency baseline printed below). Then the nearest
neighbours of a few words and a 2-D projection of chosen words show what the
vectors learned; a tiny character-level GPT's token embeddings are projected
the same way at the end.
"""

# %%
# Data: lower-cased words of the manual, split 90/10 in order; the vocabulary
# keeps the words seen at least 10 times in the training part.
import matplotlib.pyplot as plt
import torch

from snippets.common.data import text_corpus
from snippets.common.device import pick_device, preset
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.common.tokenizers import SPECIALS, CharTokenizer
from snippets.common.train import fit, train_step
from snippets.sequence_models.char_lm import lm_loss, random_windows
from snippets.transformers.gpt import GPT
from snippets.transformers.word2vec import (
    NegativeSamplingBatches,
    SkipGram,
    build_vocab,
    encode_words,
    nearest_neighbours,
    noise_distribution,
    pair_accuracy,
    skipgram_forward,
    skipgram_pairs,
    word_tokens,
)

generator = seed_everything(0)
use_style()
device = pick_device()
tokens = word_tokens(text_corpus())
cut = int(0.9 * len(tokens))
itos, counts = build_vocab(tokens[:cut], min_count=10)
stoi = {w: i for i, w in enumerate(itos)}
train_ids, test_ids = encode_words(tokens[:cut], itos), encode_words(tokens[cut:], itos)
window = 2
centers, contexts = skipgram_pairs(train_ids, window)
print(f"{len(tokens):,} words, vocabulary {len(itos)}, {len(centers):,} training pairs")

# %%
# Training: every (center, context) pair against 5 negatives drawn from the
# unigram distribution to the power 3/4, with the site's training loop; the
# model computes its own loss, so ``loss_fn`` passes it through.
dim = preset(cpu=48, gpu=128, device=device)
epochs = preset(cpu=8, gpu=20, device=device, smoke=1)
batch_size = preset(cpu=512, gpu=4096, device=device)
noise = noise_distribution(counts)
batches = NegativeSamplingBatches(centers, contexts, noise, 5, batch_size, generator)
model = SkipGram(len(itos), dim).to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
history = fit(
    model,
    batches,
    lambda loss, _: loss,
    optimizer,
    epochs=epochs,
    device=device,
    forward=skipgram_forward,
)
print(f"training loss: first epoch {history.train_loss[0]:.3f}, last {history.train_loss[-1]:.3f}")

# %%
# The bar, on held-out text: for every pair within the window, an impostor
# word drawn from the training frequencies (never the true neighbour itself).
# The frequency baseline scores each candidate by how common it is, ignoring
# the center word.
test_centers, test_contexts = skipgram_pairs(test_ids, window)
unigram = counts.double() / counts.sum()
impostors = torch.multinomial(unigram, len(test_contexts), replacement=True, generator=generator)
while (clash := impostors == test_contexts).any():  # redraw impostors equal to the answer
    impostors[clash] = torch.multinomial(
        unigram, int(clash.sum()), replacement=True, generator=generator
    )
test_pairs = [t.to(device) for t in (test_centers, test_contexts, impostors)]
accuracy = pair_accuracy(model, *test_pairs)
baseline = (counts[test_contexts] > counts[impostors]).double().mean().item()
print(f"held-out pairs: {len(test_centers):,}")
print(f"true neighbour beats the impostor: skip-gram {accuracy:.3f}, frequency {baseline:.3f}")
assert accuracy >= 0.60, f"held-out pair accuracy {accuracy:.3f} is below the bar 0.60"

# %%
# Nearest neighbours by cosine similarity of the center vectors.
vectors = model.center.weight.detach().cpu()
for word in ["int", "list", "raise", "function", "string", "import"]:
    neighbours = nearest_neighbours(vectors, stoi[word], 5)
    print(f"{word:>9}: " + ", ".join(f"{itos[i]} ({s:.2f})" for i, s in neighbours))

# %%
# A 2-D projection (PCA) of chosen words: built-in types, statements of
# control flow, and words about exceptions. Two dimensions keep only a small
# part of each vector, so the groups can overlap more than the neighbours
# above suggest.
groups = {
    "types": ["int", "float", "str", "bytes", "list", "tuple", "dict", "set"],
    "control flow": ["if", "else", "while", "for", "break", "continue", "return"],
    "exceptions": ["raise", "except", "try", "finally", "exception", "error", "raised"],
}
words = [w for ws in groups.values() for w in ws]
chosen = vectors[[stoi[w] for w in words]]
centred = chosen - chosen.mean(dim=0)
_, _, v = torch.linalg.svd(centred, full_matrices=False)
xy = centred @ v[:2].T  # coordinates on the two main directions
fig, ax = plt.subplots(figsize=(7, 5))
start = 0
for name, ws in groups.items():
    part = xy[start : start + len(ws)]
    ax.scatter(part[:, 0], part[:, 1], label=name, s=30)
    for (x, y), w in zip(part.tolist(), ws):
        ax.annotate(w, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=9)
    start += len(ws)
ax.set(
    title="Skip-gram word vectors, projected on their two main directions",
    xlabel="principal direction 1",
    ylabel="principal direction 2",
)
ax.legend()
plt.show()

# %%
# The same kind of table inside a language model: a tiny character-level GPT
# (:class:`snippets.transformers.gpt.GPT`, two blocks of width 32) trained
# for a few hundred steps to predict the next character of the same text.
# Its token embedding is learned only as a side effect of that task, yet
# characters that behave alike end up together: the mean cosine similarity
# within each group is printed next to the mean over all pairs of
# characters, and the projection shows the groups.
text = text_corpus()
chars = CharTokenizer([text])
char_ids = torch.tensor(chars.encode(text), dtype=torch.int64)
gpt = GPT(len(chars), 32, d_model=32, nhead=4, num_layers=2, dropout=0.0).to(device)
gpt_optimizer = torch.optim.AdamW(gpt.parameters(), lr=3e-3)
for _ in range(preset(cpu=400, gpu=2000, device=device, smoke=3)):
    inputs, targets = random_windows(char_ids, 32, 32, generator)
    last_loss = train_step(gpt, (inputs.to(device), targets.to(device)), lm_loss, gpt_optimizer)
print(f"GPT next-character loss on its last batch: {last_loss:.3f} nats")

table = gpt.token.weight.detach().cpu()
char_groups = {
    "digits": "0123456789",
    "vowels": "aeiou",
    "consonants": "bcdfghklmnprstvw",
    "capitals": "ABCDEFIPRST",
    "punctuation": ".,;:()[]'\"",
}
unit = torch.nn.functional.normalize(table[len(SPECIALS) :], dim=1)  # the characters only
print(f"mean cosine similarity, all characters: {(unit @ unit.T).mean():.2f}")
for name, members in char_groups.items():
    group = torch.nn.functional.normalize(table[[chars.stoi[c] for c in members]], dim=1)
    print(f"mean cosine similarity within {name:>11}: {(group @ group.T).mean():.2f}")

chosen_chars = "".join(char_groups.values())
rows = table[[chars.stoi[c] for c in chosen_chars]]
centred = rows - rows.mean(dim=0)
xy = centred @ torch.linalg.svd(centred, full_matrices=False)[2][:2].T
fig, ax = plt.subplots(figsize=(7, 5))
start = 0
for name, members in char_groups.items():
    part = xy[start : start + len(members)]
    ax.scatter(part[:, 0], part[:, 1], label=name, s=30)
    for (x, y), c in zip(part.tolist(), members):
        ax.annotate(c, (x, y), textcoords="offset points", xytext=(4, 3), fontsize=10)
    start += len(members)
ax.set(
    title="A small GPT's character embeddings (PCA)",
    xlabel="principal direction 1",
    ylabel="principal direction 2",
)
ax.legend()
plt.show()
