"""Peers that sent X-Forwarded-For without being trusted proxies, for `check` to report.

Behind a reverse proxy that is not listed in KCPR_TRUSTED_PROXIES, every visitor
arrives from the proxy's address: they all share one per-client rate limit, and one
person's requests can lock everyone out. The web layer cannot tell a misconfigured
proxy from a client that sets the header itself, so it only remembers the peer
(one row per peer, its last sighting) and `check` tells the operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from keycloak_pwreset.clock import Clock, utc_now
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.models import ForwardingPeer

# Older sightings are history: the set-up may have been fixed since.
RECENT = timedelta(days=7)
PEER_LENGTH = 64  # the column's width; an address (even IPv6 with a zone) is shorter
UPSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


@dataclass(frozen=True)
class PeerSighting:
    peer: str
    last_seen: datetime


class ForwardingPeers:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def note(self, peer: str) -> None:
        """Remember that ``peer`` sent X-Forwarded-For now (one row per peer, upserted)."""
        values = {"peer": peer[:PEER_LENGTH], "last_seen": self._clock()}
        with self._db.session() as session:
            insert: Any = UPSERTS.get(session.get_bind().dialect.name)
            if insert is None:  # another database: read-then-write is good enough here
                session.merge(ForwardingPeer(**values))
                return
            # An upsert, not read-then-write: several instances may see the same peer
            # at once, and the second must not fail on the primary key.
            statement = insert(ForwardingPeer).values(**values)
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=[ForwardingPeer.peer],
                    set_={"last_seen": statement.excluded.last_seen},
                )
            )

    def recent(self, within: timedelta = RECENT) -> list[PeerSighting]:
        """Peers seen within ``within``, most recent first."""
        since = self._clock() - within
        with self._db.session() as session:
            rows = session.scalars(
                select(ForwardingPeer)
                .where(ForwardingPeer.last_seen >= since)
                .order_by(ForwardingPeer.last_seen.desc())
            ).all()
            return [PeerSighting(row.peer, row.last_seen) for row in rows]
