"""Verify the chain and hold it to every signed checkpoint the witness has.

The chain alone shows edits, deletions in the middle, renumbering and swaps (a record's hash
covers its seq and its predecessor's hash). What it cannot show — the newest records cut off, or
everything from some record on re-hashed after an edit — shows against a checkpoint: the signed
head is gone, or the record at its seq has another hash.

The verdict (`AnchoredReport.status`):
- `anchored`: the chain verifies and agrees with every checkpoint (records after the latest
  one are listed as such: intact, not yet anchored);
- `tampered`: the chain is broken, disagrees with a checkpoint, or the witness is altered (a
  forged, unsigned, unreadable or missing checkpoint); `findings` says what, one sentence each;
- `unanchored`: the chain verifies but nothing outside the database vouches for its head (no
  witness configured, or none of its checkpoints is there yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from retrofit.audit.checkpoint import Checkpoint, CheckpointError, read_checkpoint
from retrofit.audit.events import VerifyReport
from retrofit.audit.store import AuditStore
from retrofit.audit.witness import Witness, WitnessEntry, WitnessError, seq_of

Status = Literal["anchored", "tampered", "unanchored"]


@dataclass
class AnchoredReport:
    chain: VerifyReport
    status: Status
    findings: list[str] = field(default_factory=list)  # what is wrong, or why unanchored
    latest: Checkpoint | None = None
    checkpoints: int = 0  # valid checkpoints held against the chain
    after_latest: tuple[int, int] | None = None  # (first, last) seq appended after the latest
    witness: str | None = None


async def verify_anchored(
    store: AuditStore,
    witness: Witness | None,
    store_id: str,
    keys: dict[str, Ed25519PublicKey],
) -> AnchoredReport:
    chain = await store.verify()
    if witness is None:
        if not chain.ok:
            return AnchoredReport(chain, "tampered")
        return AnchoredReport(
            chain,
            "unanchored",
            [
                "no witness is configured (RETROFIT_AUDIT_WITNESS=none): nothing outside the database "
                "vouches for the head, so deleted newest records or a re-hashed chain would go unseen"
            ],
        )
    findings: list[str] = []
    try:
        reading = await witness.read(store_id)
    except (WitnessError, OSError) as exc:
        return AnchoredReport(chain, "tampered", [f"cannot read the witness {witness.location}: {exc}"])
    findings.extend(reading.problems)
    checkpoints = _valid(reading.entries, keys, store_id, findings)
    names = {entry.name for entry in reading.entries}
    if reading.latest is not None and reading.latest not in names:
        findings.append(
            f"the witness's latest pointer names checkpoint {reading.latest} (seq {seq_of(reading.latest)}), "
            "which is not in the witness: it was deleted"
        )
    elif reading.latest is None and reading.entries:
        findings.append("the witness holds checkpoints but no latest pointer: the pointer was deleted")
    digests = {c.digest for c in checkpoints.values()}
    for name, checkpoint in sorted(checkpoints.items()):
        if checkpoint.previous is not None and checkpoint.previous not in digests:
            findings.append(
                f"checkpoint {name} follows a checkpoint ({checkpoint.previous[:16]}…) that is not in "
                "the witness: a checkpoint was deleted"
            )
    if not keys and reading.entries:
        findings.append(
            "no public key to check checkpoint signatures with: set RETROFIT_AUDIT_PUBLIC_KEY "
            "(or RETROFIT_AUDIT_SIGNING_KEY_FILE)"
        )
    ordered = sorted(checkpoints.values(), key=lambda c: (c.seq, c.time))
    latest = ordered[-1] if ordered else None
    findings.extend(await _against_chain(store, chain, ordered))
    if not chain.ok or findings:
        return AnchoredReport(chain, "tampered", findings, latest, len(ordered), witness=witness.location)
    if latest is None:
        if chain.checked == 0:
            return AnchoredReport(chain, "anchored", [], None, 0, witness=witness.location)
        return AnchoredReport(
            chain,
            "unanchored",
            [
                f"the witness {witness.location} holds no checkpoint of this store: nothing vouches for "
                f"the head (seq {chain.head_seq}); run `retrofit audit checkpoint`"
            ],
            witness=witness.location,
        )
    head = chain.head_seq or 0
    after = (latest.seq + 1, head) if head > latest.seq else None
    return AnchoredReport(chain, "anchored", [], latest, len(ordered), after, witness.location)


def _valid(
    entries: list[WitnessEntry], keys: dict[str, Ed25519PublicKey], store_id: str, findings: list[str]
) -> dict[str, Checkpoint]:
    valid: dict[str, Checkpoint] = {}
    for entry in entries:
        try:
            checkpoint = read_checkpoint(entry.text, keys, store_id)
        except CheckpointError as exc:
            findings.append(f"checkpoint {entry.where} is {exc}")
            continue
        if seq_of(entry.name) != checkpoint.seq:
            findings.append(
                f"checkpoint {entry.where} is named for seq {seq_of(entry.name)} but signs seq {checkpoint.seq}"
            )
        valid[entry.name] = checkpoint
    return valid


async def _against_chain(store: AuditStore, chain: VerifyReport, ordered: list[Checkpoint]) -> list[str]:
    """What the chain's records say against each checkpoint's signed head."""

    if not ordered:
        return []
    stored = await store.hashes_at([c.seq for c in ordered])
    end = max(stored, default=0)
    findings: list[str] = []
    missing = [c for c in ordered if c.seq not in stored]
    if missing:
        newest = missing[-1]
        if newest.seq > end:
            findings.append(
                f"truncated: the checkpoint of {newest.describe()} signed seq {newest.seq}, but the "
                f"store ends at seq {end}: records {end + 1}..{newest.seq} were deleted"
            )
        inside = [c for c in missing if c.seq <= end]
        if inside:
            findings.append(
                f"records at seq {', '.join(str(c.seq) for c in inside[:5])} that checkpoints signed are "
                "missing: records were deleted"
            )
    differing = [c for c in ordered if c.seq in stored and stored[c.seq] != c.hash]
    if differing:
        first = differing[0]
        findings.append(
            f"rewritten: the record at seq {first.seq} has hash {stored[first.seq][:16]}…, but the "
            f"checkpoint of {first.describe()} signed {first.hash[:16]}…: the records up to seq "
            f"{first.seq} were edited and re-hashed, renumbered or replaced"
            + (f" ({len(differing) - 1} later checkpoints disagree too)" if len(differing) > 1 else "")
        )
    return findings
