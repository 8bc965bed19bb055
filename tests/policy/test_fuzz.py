"""No input, however broken, makes the loader raise anything but PolicyError."""

from __future__ import annotations

import random
from pathlib import Path

from seal.errors import PolicyError
from seal.policy.document import parse_file
from seal.policy.loader import load_policy_text, policy_from_document
from seal.steps.registry import STEP_TYPES

REPO = Path(__file__).resolve().parents[2]
SEEDS = sorted((REPO / "policies").glob("*.yml"))
JUNK = [
    "{",
    "}",
    "[",
    "]",
    ":",
    "- ",
    "\t",
    "&a ",
    "*a",
    "!!binary ",
    "${",
    "'",
    '"',
    "\x00",
    "9" * 400,
    "\n  ",
    "? ",
    "|",
    ">",
    "#",
    "%YAML 1.1\n",
    "---\n",
    "null",
    "1e999",
]


def mutate(text: str, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        position = rng.randrange(len(chars) + 1)
        choice = rng.random()
        if choice < 0.4:
            chars[position:position] = list(rng.choice(JUNK))
        elif choice < 0.7 and chars:
            del chars[position : position + rng.randint(1, 20)]
        else:
            lines = "".join(chars).splitlines(keepends=True)
            if lines:
                lines.insert(rng.randrange(len(lines)), rng.choice(lines))
            chars = list("".join(lines))
    return "".join(chars)


def test_mutated_policies_never_crash_the_loader() -> None:
    rng = random.Random(20261122)
    outcomes = {"valid": 0, "invalid": 0}
    for attempt in range(400):
        text = mutate(rng.choice(SEEDS).read_text(), rng)
        try:
            load_policy_text(text, STEP_TYPES, f"fuzz-{attempt}.yml", {})
            outcomes["valid"] += 1
        except PolicyError as exc:
            assert exc.problems
            assert all(p.startswith(f"fuzz-{attempt}.yml") for p in exc.problems), exc.problems
            outcomes["invalid"] += 1
    assert outcomes["invalid"] > 100


def test_binary_deep_and_non_utf8_files(tmp_path: Path) -> None:
    cases = {
        "binary.yml": bytes(range(256)),
        "latin1.yml": "scenarios:\n- name: caf\xe9\n".encode("latin-1"),
        "deep.yml": ("[" * 5000 + "]" * 5000).encode(),
        "deepmap.yml": ("a: " * 3000 + "1").encode(),
        "huge-number.yml": b"scenarios: []\nconfig: {runStrategy: {runs: 1" + b"0" * 5000 + b"}}",
    }
    for name, raw in cases.items():
        path = tmp_path / name
        path.write_bytes(raw)
        try:
            policy_from_document(parse_file(str(path), {}), STEP_TYPES)
        except PolicyError as exc:
            assert exc.problems[0].startswith(str(path)), (name, exc.problems)
        else:
            assert name == "huge-number.yml"
