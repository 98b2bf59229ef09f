#!/usr/bin/python3
"""Writes the small data sets the examples read (run from the repo root:
/usr/bin/python3 examples/data/make_data.py). Deterministic; the .npy files
it makes are committed, so building and testing need no Python."""
import numpy as np

out = "examples/data/"
np.save(out + "xor_x.npy", np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype="<f4"))
np.save(out + "xor_t.npy", np.array([[0], [1], [1], [0]], dtype="<f4"))

# Three interleaved spirals of 50 points each, with a little seeded noise.
rng = np.random.default_rng(1)
xs, ts = [], []
for c in range(3):
    r = np.linspace(0.1, 1.0, 50)
    a = np.linspace(0, 3.5, 50) + c * 2 * np.pi / 3 + rng.normal(0, 0.15, 50)
    xs.append(np.stack([r * np.cos(a), r * np.sin(a)], axis=1))
    ts.append(np.eye(3)[np.full(50, c)])
np.save(out + "spiral_x.npy", np.concatenate(xs).astype("<f4"))
np.save(out + "spiral_t.npy", np.concatenate(ts).astype("<f4"))

np.save(out + "custom_x.npy", np.linspace(-3, 3, 12).reshape(3, 4).astype("<f4"))
