"""The metadata schema (SQLAlchemy Core). Changes go through an Alembic migration."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _byte_ordered(length: int) -> sa.types.TypeEngine[str]:
    """A name compared and sorted by code point, as the catalog and tag listings require.

    SQLite compares bytes already; PostgreSQL would use the database's collation.
    """
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


#: A repository; created by its first committed blob link (upload, mount) or manifest.
repositories = sa.Table(
    "repositories",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", _byte_ordered(255), nullable=False, unique=True),
    sa.Column("created_at", sa.Float, nullable=False),
    #: PostgreSQL: bumped by every change to the repository's tags, manifests or blob links
    #: in the transaction that makes it; replicas trust a cached entry of the repository
    #: only while the generation it was read at is current (unused with SQLite).
    sa.Column("generation", sa.BigInteger, nullable=False, server_default="0"),
    # Never reuse the id of a deleted repository: caches are keyed by id.
    sqlite_autoincrement=True,
)

#: Blobs committed to storage (content-addressed, shared by all repositories).
blobs = sa.Table(
    "blobs",
    metadata,
    sa.Column("digest", sa.String(200), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    #: The latest read through a pull-through cache (persisted lazily; LRU of the size cap).
    sa.Column("last_used_at", sa.Float, nullable=True),
)

#: A blob is visible in a repository only once it was pushed or mounted there.
repository_blobs = sa.Table(
    "repository_blobs",
    metadata,
    sa.Column(
        "repository_id",
        sa.Integer,
        sa.ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("digest", sa.String(200), primary_key=True),
    #: When the blob was last pushed, mounted or fetched here (garbage collection's grace).
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_repository_blobs_digest", "digest"),
)

#: Manifests with their raw bytes, so digests stay stable.
manifests = sa.Table(
    "manifests",
    metadata,
    sa.Column(
        "repository_id",
        sa.Integer,
        sa.ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("digest", sa.String(200), primary_key=True),
    sa.Column("media_type", sa.String(255), nullable=False),
    sa.Column("artifact_type", sa.String(255), nullable=True),
    sa.Column("subject", sa.String(200), nullable=True),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_manifests_subject", "repository_id", "subject"),
)

#: What a manifest references: its config and layers, or an index's children.
manifest_references = sa.Table(
    "manifest_references",
    metadata,
    sa.Column("repository_id", sa.Integer, primary_key=True),
    sa.Column("digest", sa.String(200), primary_key=True),
    sa.Column("child", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # "blob" | "manifest"
    sa.ForeignKeyConstraint(
        ["repository_id", "digest"],
        ["manifests.repository_id", "manifests.digest"],
        ondelete="CASCADE",
    ),
    sa.Index("ix_manifest_references_child", "repository_id", "child"),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column(
        "repository_id",
        sa.Integer,
        sa.ForeignKey("repositories.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("name", _byte_ordered(128), primary_key=True),
    sa.Column("digest", sa.String(200), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_tags_digest", "repository_id", "digest"),
)

#: Upload sessions in flight; their bytes are staged in the blob store.
uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    #: The repository's name: a session does not create the repository (its first blob
    #: link or manifest does), so there may be no row to point at yet.
    sa.Column("repository", sa.String(255), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

# -- identities and access ---------------------------------------------------------

#: People. ``admin`` may do everything.
users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("admin", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

#: Robots: id ``cli-xxxxx``, a secret shown once; nothing until granted.
api_clients = sa.Table(
    "api_clients",
    metadata,
    sa.Column("id", sa.String(16), primary_key=True),
    sa.Column("description", sa.String(255), nullable=False, default=""),
    sa.Column("secret_hash", sa.String(255), nullable=False),
    sa.Column("owner", sa.String(64), nullable=True),
    #: A service account of a namespace (repository-name prefix), or None.
    sa.Column("namespace", sa.String(255), nullable=True),
    #: JSON list of {"capabilities": [...], "repositories": [glob, ...]} (may be empty).
    sa.Column("grants", sa.JSON, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    #: A secret alone names its client (docker login -u ANYNAME with a client's secret).
    sa.Index("ix_api_clients_secret_hash", "secret_hash"),
)

#: Personal access tokens and refresh tokens: opaque, hashed at rest.
tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # the accessor, shown in listings
    sa.Column("name", sa.String(128), nullable=False, default=""),
    sa.Column("kind", sa.String(16), nullable=False),  # "personal" | "refresh"
    sa.Column("principal_kind", sa.String(16), nullable=False),  # "user" | "api-client"
    sa.Column("principal_id", sa.String(64), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False),  # sha256 hex of the secret
    #: A refresh token minted from a personal token dies with it.
    sa.Column("parent", sa.String(32), nullable=True),
    #: Policy names the token is limited to (JSON list), or null for all of its owner's.
    sa.Column("policies", sa.JSON, nullable=True),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("revoked_at", sa.Float, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Index("ix_tokens_principal", "principal_kind", "principal_id"),
)

#: Named capability bundles over repository globs (built-ins are not stored).
policies = sa.Table(
    "policies",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("description", sa.String(255), nullable=False, default=""),
    #: JSON list of {"capabilities": [...], "repositories": [glob, ...]}.
    sa.Column("rules", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

#: Which principal holds which policy.
policy_bindings = sa.Table(
    "policy_bindings",
    metadata,
    sa.Column("policy", sa.String(64), primary_key=True),
    sa.Column("principal_kind", sa.String(16), primary_key=True),
    sa.Column("principal_id", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

#: OpenShift-style roles (registry-viewer, registry-editor) on a namespace prefix.
role_bindings = sa.Table(
    "role_bindings",
    metadata,
    sa.Column("role", sa.String(64), primary_key=True),
    sa.Column("principal_kind", sa.String(16), primary_key=True),
    sa.Column("principal_id", sa.String(64), primary_key=True),
    sa.Column("namespace", sa.String(255), primary_key=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

#: Brightbox-style access rules on one repository (by name; they outlive its content).
access_rules = sa.Table(
    "access_rules",
    metadata,
    sa.Column("repository", sa.String(255), primary_key=True),
    sa.Column("principal_kind", sa.String(16), primary_key=True),  # user|api-client|public
    sa.Column("principal_id", sa.String(64), primary_key=True),  # "" for public
    sa.Column("actions", sa.JSON, nullable=False),  # subset of pull, push, delete
    sa.Column("created_at", sa.Float, nullable=False),
)

#: Who created a repository namespace (may manage its access rules).
namespace_owners = sa.Table(
    "namespace_owners",
    metadata,
    sa.Column("namespace", sa.String(255), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

# -- Strongbox -----------------------------------------------------------------------

#: Vaults group secrets (Avassa Strongbox); ``distribute`` is kept as given.
vaults = sa.Table(
    "vaults",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("distribute", sa.JSON, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
)

#: Secrets: key/value data sealed with AES-256-GCM under a per-secret data key, itself
#: wrapped by a master key (``master_key_id``); only key names are stored in clear.
secrets = sa.Table(
    "secrets",
    metadata,
    sa.Column(
        "vault", sa.String(128), sa.ForeignKey("vaults.name", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("allow_image_access", sa.JSON, nullable=True),
    sa.Column("keys", sa.JSON, nullable=False),
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("master_key_id", sa.String(32), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# -- remote registries (pull-through) ----------------------------------------------

#: Upstream registries; ``name`` is the alias used as a repository-name prefix.
remote_registries = sa.Table(
    "remote_registries",
    metadata,
    sa.Column("address", sa.String(255), primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("override_address", sa.String(255), nullable=True),
    sa.Column("ca_cert", sa.Text, nullable=True),
    #: JSON list of {"repository": GLOB, "vault": NAME, "secret": NAME}.
    sa.Column("credentials", sa.JSON, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

#: Singleton settings of the image registry (``image-registry/settings``), as key/value.
registry_settings = sa.Table(
    "registry_settings",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.JSON, nullable=True),
)

# -- replicas --------------------------------------------------------------------------

#: Counters bumped by changes that replicas cache (PostgreSQL; unused with SQLite): ``auth``
#: by every change to credentials, tokens and grants, in the transaction that makes it.
generations = sa.Table(
    "generations",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.BigInteger, nullable=False),
)

#: Registry-token signing keys (ES256), shared by every replica: the PKCS#8 PEM sealed
#: with the Strongbox master key (regd.auth.signing). The newest signs; all verify.
signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(64), primary_key=True),
    sa.Column("ciphertext", sa.LargeBinary, nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("master_key_id", sa.String(32), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

#: The master keys this database's secrets may be sealed with: an id and a check value
#: (an HMAC made with the key), never the key. Replicas compare theirs at start.
master_key_records = sa.Table(
    "master_key_records",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("check_value", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)


#: The audit log: one row per security-relevant event (regd.audit); never a secret.
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("time", sa.Float, nullable=False, index=True),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("principal", sa.String(160), nullable=False, index=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("details", sa.Text, nullable=False),
    sqlite_autoincrement=True,
)

#: Webhook endpoints (regd.notify): where registry events are POSTed.
webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("events", sa.Text, nullable=False),  # JSON list of actions
    sa.Column("repositories", sa.String(255), nullable=False),  # a glob
    sa.Column("headers", sa.Text, nullable=False),  # JSON object
    sa.Column("secret", sa.Text, nullable=True),  # the HMAC key; never shown again
    sa.Column("created_at", sa.Float, nullable=False),
)

#: Events waiting for delivery, per endpoint, oldest first (survive a restart).
webhook_queue = sa.Table(
    "webhook_queue",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("webhook", sa.String(64), nullable=False, index=True),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("repository", sa.String(255), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sqlite_autoincrement=True,
)

#: What became of each event: delivered, failed (retries exhausted) or dropped (queue full).
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("webhook", sa.String(64), nullable=False, index=True),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("repository", sa.String(255), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("time", sa.Float, nullable=False),
    sqlite_autoincrement=True,
)
