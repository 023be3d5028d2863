"""Hybrid retrieval over ``search_docs``: pgvector HNSW (cosine) and Postgres full text, fused by rank.

Reciprocal rank fusion (Cormack et al. 2009): ``score = sum(1 / (k + rank))`` over the two rankings, k = 60.
It needs no score calibration between cosine distance and ``ts_rank``, and a document found by only one side
still counts. Both sides see the synonym-expanded text (:func:`escher.embed.expand`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from escher.embed import expand, tokens
from escher.store.models import Collection, SearchFilter, SearchHit

if TYPE_CHECKING:
    import psycopg

__all__ = ["RRF_K", "SearchMode", "doc_text", "filter_sql", "search", "tsquery_text", "vector_literal"]

RRF_K = 60
# Weights of the two rankings in the fusion. Full text over OR-queries ranks paraphrases worse than the
# synonym-aware vectors do (bench: MRR 0.62 vs 0.77), so its votes count for less (0.3 was best of 1.0, 0.5, 0.3, 0.2); it still rescues exact
# identifiers (instance ids, names) that hashing spreads thin.
VECTOR_WEIGHT = 1.0
TEXT_WEIGHT = 0.3
SearchMode = Literal["hybrid", "vector", "text"]


def vector_literal(vector: list[float]) -> str:
    return "[" + ",".join(f"{v:.6g}" for v in vector) + "]"


def doc_text(title: str, body: str, *, synonyms: bool) -> str:
    text = f"{title} {body}"
    return expand(text) if synonyms else text


def tsquery_text(query: str, *, synonyms: bool) -> str:
    """An OR query of the words (and concepts): paraphrases share some words, rarely all of them."""
    words = tokens(expand(query) if synonyms else query)
    unique = list(dict.fromkeys(w for w in words if w))
    return " | ".join(unique)


def filter_sql(flt: SearchFilter | None) -> tuple[str, dict[str, Any]]:
    if flt is None:
        return "TRUE", {}
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if flt.collections:
        clauses.append("collection = ANY(%(f_collections)s)")
        params["f_collections"] = [str(c) for c in flt.collections]
    if flt.kinds:
        clauses.append("kind = ANY(%(f_kinds)s)")
        params["f_kinds"] = list(flt.kinds)
    for name in ("cloud", "account", "region", "resource_type"):
        value = getattr(flt, name)
        if value is not None:
            clauses.append(f"{name} = %(f_{name})s")
            params[f"f_{name}"] = value
    if flt.since is not None:
        clauses.append("at >= %(f_since)s")
        params["f_since"] = flt.since
    if flt.until is not None:
        clauses.append("at < %(f_until)s")
        params["f_until"] = flt.until
    return (" AND ".join(clauses) or "TRUE"), params


_COLUMNS = (
    "d.doc_id, d.collection, d.kind, d.title, d.body, d.at, d.cloud, d.account, d.region, d.resource_type"
)


def search(
    conn: psycopg.Connection[Any],
    query: str,
    query_vector: list[float] | None,
    *,
    flt: SearchFilter | None = None,
    limit: int = 10,
    mode: SearchMode = "hybrid",
    synonyms: bool = True,
    candidates: int | None = None,
) -> list[SearchHit]:
    where, params = filter_sql(flt)
    k = candidates or max(limit * 4, 40)
    tsq = tsquery_text(query, synonyms=synonyms) if mode != "vector" else ""
    use_vec = mode != "text" and query_vector is not None
    use_txt = mode != "vector" and bool(tsq)
    if not (use_vec or use_txt):
        return []
    params.update({"k": k, "limit": limit, "rrf": RRF_K, "vw": VECTOR_WEIGHT, "tw": TEXT_WEIGHT})
    parts: list[str] = []
    if use_vec:
        params["qv"] = vector_literal(query_vector or [])
        parts.append(
            "vec AS (SELECT doc_id, row_number() OVER (ORDER BY dist) AS r FROM ("
            f" SELECT doc_id, embedding <=> %(qv)s::vector AS dist FROM search_docs WHERE {where}"
            " ORDER BY embedding <=> %(qv)s::vector LIMIT %(k)s) v)"
        )
    if use_txt:
        params["tsq"] = tsq
        parts.append(
            "txt AS (SELECT doc_id, row_number() OVER (ORDER BY rank DESC, doc_id) AS r FROM ("
            " SELECT doc_id, ts_rank(tsv, q) AS rank FROM search_docs, to_tsquery('english', %(tsq)s) q"
            f" WHERE tsv @@ q AND {where} ORDER BY rank DESC, doc_id LIMIT %(k)s) t)"
        )
    if use_vec and use_txt:
        fused = (
            "SELECT coalesce(vec.doc_id, txt.doc_id) AS doc_id, vec.r AS vr, txt.r AS tr,"
            " coalesce(%(vw)s / (%(rrf)s + vec.r), 0) + coalesce(%(tw)s / (%(rrf)s + txt.r), 0) AS score"
            " FROM vec FULL JOIN txt ON vec.doc_id = txt.doc_id"
        )
    elif use_vec:
        fused = "SELECT doc_id, r AS vr, NULL::bigint AS tr, 1.0 / (%(rrf)s + r) AS score FROM vec"
    else:
        fused = "SELECT doc_id, NULL::bigint AS vr, r AS tr, 1.0 / (%(rrf)s + r) AS score FROM txt"
    sql = (
        f"WITH {', '.join(parts)}, fused AS ({fused}) "
        f"SELECT {_COLUMNS}, f.vr, f.tr, f.score FROM fused f JOIN search_docs d ON d.doc_id = f.doc_id "
        "ORDER BY f.score DESC, d.doc_id LIMIT %(limit)s"
    )
    with conn.transaction():
        # pgvector 0.8: keep scanning the HNSW graph until enough rows pass the metadata filter.
        conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        # ef_search 100: recall@10 0.98 at 100k vectors, p95 2 ms (bench_store); 40 gave 0.91
        conn.execute(f"SET LOCAL hnsw.ef_search = {max(k, 100)}")
        rows = conn.execute(sql, params).fetchall()
    return [
        SearchHit(
            doc_id=r[0],
            collection=Collection(r[1]),
            kind=r[2],
            title=r[3],
            text=r[4],
            at=r[5],
            cloud=r[6],
            account=r[7],
            region=r[8],
            resource_type=r[9],
            vector_rank=r[10],
            text_rank=r[11],
            score=float(r[12]),
        )
        for r in rows
    ]
