"""Compare a node's provenance answers with the replay (rule ``node.match``).

For every batch, certificate issuance and participant on chain the comparator asks the node the
question a brand or an auditor would ask, and checks every fact of the answer that the replay can
vouch for, each leaf separately (a node may answer more: the claim's wording and the ``facts`` digest
are not compared; names are, as the registry's events gave them; block times are).
The endpoints and the parts of their answers compared (the node's own JSON shape, snake_case):

GET {node}/provenance/status
    ``chain_id`` (a node following another chain fails); ``last_indexed_block`` against the audited
    head (a node behind or ahead is a warning: its answers may then differ by that lag).
GET {node}/provenance/batches/{id}
    ``batch``: kind, material, characteristic, model (ids and names), share_ppm, origin_batch_id,
      creator, created_by, quantity, tx_hash, block_number, log_index, time (the block's); an origin's site, certification_id,
      geolocation_hash, dds_reference, evidence_hash, production_date; ``parents`` (in order),
      ``children``, ``transform`` (process, factor, input, output, loss, credits converted/produced),
      current ``holders`` (address, participant, quantity; the ledger's escrow excluded),
      ``in_transit``, ``consumed``;
    ``lineage``: every ancestor (core fields), every edge, ``ancestor_count``, every ``origin`` of the
      ancestry with the quantity of it taken into this batch and the part of this batch it accounts
      for (exact proportional attribution through every split, merge and transform), the weakest model
      on its paths, a path that really leads from it to this batch, the producer's certification as it
      stood at creation; the certifications' details and status changes;
    ``descendants``: every descendant and edge;
    ``custody``: every transfer of the batch and of its ancestors: parties (address and participant at
      the proposal), quantity, declared certified quantity, nonce, deadline, signatures, status,
      proposal and settlement transactions;
    ``book_and_claim``: the pledges of this batch (or released into its ancestry), their issuances,
      retirements and revocation;
    ``claim``: kind, percent, the certified origins with their contribution, the mass-balance certified
      quantity with its declarations, the book & claim units, and the evidence transactions.
GET {node}/provenance/tx/{hash}  (every replayed transaction)
    block_number, time, and every event of the ledger's contracts (log index, contract, name, every
    argument); the forwarder's events may be listed too (the auditor does not replay them).
GET {node}/provenance/batches/{id}/epcis
    every EPCIS event must name a replayed chain event in its eventID (transaction and log index) and agree
    with it: eventTime (the block time), coc:txHash, coc:blockNumber, quantities (origins, transforms,
    shipping and receiving), an origin's ilmd (DDS reference, evidence, geolocation, production date,
    certification); the creation of the batch and of every ancestor and the shipping and receiving of every
    accepted delivery of the lineage must be there.
GET {node}/provenance/batches/{id}/passport
    the product (token, material, quantity created, kind, model, characteristic, share, creation block and
    time, transform), its certified origins (production date, geolocation, DDS, evidence, creation) and the
    accepted deliveries of its lineage (quantity, certified quantity, settlement transaction and time).
GET {node}/provenance/certificates/{id}
    issuer, producer, recipient, amount, unit size and label, material, characteristic, period,
    evidence hash, pledge (source, quantity, batches), the holders over time and now, every
    retirement (holder, retiredBy, amount, beneficiary, period, purpose), units retired, revocation.
GET {node}/provenance/participants/{id}
    name, roles, status, sites, wallets, batches held, transfers in transit, certificates held,
    retirements, certifications (validity period, models, status now and every change; not the
    ``status_at_time``/``valid_at_time`` of that answer, which the node computes at no meaningful time)
    and every mass-balance credit account: parameters, balance, every booking, the period statements
    and the closed periods.

Every difference is a failing ``node.match`` finding naming the endpoint, the field (a path such as
``custody[transfer_id=0x..].status``), what the node says and what the chain says, with the events
that prove the chain's value as evidence. Pluggable: a :class:`Probe` names an endpoint, the ids to
ask about and the expected answer (see :func:`node_document` for the answer an honest node gives,
as far as the replay can tell).

The package: `values.py` (how expected values match), `facts.py` (indexes over the replay),
`batches.py`, `certificates.py`, `participants.py`, `documents.py` (transactions, EPCIS, passports: the
expected answer of each endpoint), `probes.py`
(which endpoint for which ids) and `comparator.py` (asking the node and walking its answers).
"""

from .comparator import NodeComparator
from .probes import DEFAULT_PROBES, Probe, expected_answers
from .values import node_document

__all__ = ["DEFAULT_PROBES", "NodeComparator", "Probe", "expected_answers", "node_document"]
