"""Store benchmarks: retrieval quality per embedder, insert throughput, HNSW latency and recall.

``python -m bench store`` runs on the embedded server in a temporary directory. Options (environment, since
``python -m bench`` passes no flags through): ``ESCHER_BENCH_VECTORS`` (default 100000; 1000000 for the big
run, not for CI), ``ESCHER_BENCH_EMBEDDERS`` (default: every embedder that is installed).
Figures are printed; nothing here is an assertion.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from escher.config import Paths
from escher.embed import get_embedder, known_embedders
from escher.errors import EscherError


def _embedders() -> list[str]:
    wanted = os.environ.get("ESCHER_BENCH_EMBEDDERS")
    names = wanted.split(",") if wanted else known_embedders()
    usable = []
    for name in names:
        try:
            get_embedder(name)
        except EscherError as exc:
            print(f"  (skipping embedder {name}: {exc.message})")
            continue
        usable.append(name)
    return usable


def quality(url: str, paths: Paths) -> None:
    import psycopg

    from escher.store.quality import evaluate, index_pairs, load_pairs
    from escher.store.store import Store

    pairs = load_pairs()
    print(f"-- retrieval quality: {len(pairs)} paraphrase pairs (top-1 / MRR@20)")
    rows = []
    for name in _embedders():
        for synonyms in (False, True):
            db = f"q_{name.replace('-', '_')}_{int(synonyms)}"
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
                conn.execute(f'CREATE DATABASE "{db}"')
            started = time.perf_counter()
            with Store.open(paths=paths, url=url.replace("/postgres?", f"/{db}?"), embedder=name,
                            synonyms=synonyms) as store:  # fmt: skip
                index_pairs(store, pairs)
                syn = "+syn" if synonyms else ""
                if name == known_embedders()[0]:  # full text alone does not depend on the embedder
                    rows.append(evaluate(store, pairs, "text", f"full text{syn}"))
                if not (name == "hashing-syn" and not synonyms):
                    rows.append(evaluate(store, pairs, "vector", f"vector {name}"))
                rows.append(evaluate(store, pairs, "hybrid", f"hybrid {name} + full text{syn}"))
            print(f"  ({name}, synonyms={synonyms}: {time.perf_counter() - started:.1f}s)")
    seen = set()
    for q in rows:
        if q.label in seen:
            continue
        seen.add(q.label)
        print(f"  {q.label:<40} top-1 {q.top1:5.2f}   MRR {q.mrr:5.3f}")


def inserts(url: str, paths: Paths, n: int = 3000) -> None:
    from escher.audit import AuditRecord
    from escher.store.models import InventoryItem
    from escher.store.store import Store

    print(f"-- insert throughput ({n} records, hashing-syn embeddings, one transaction per batch of 500)")
    with Store.open(paths=paths, url=url) as store:
        items = [InventoryItem(resource_id=f"i-{i}", resource_type="aws.ec2.instance", name=f"web-{i}",
                               state="running", tags={"env": "dev", "team": f"t{i % 7}"}) for i in range(n)]  # fmt: skip
        started = time.perf_counter()
        for start in range(0, n, 500):
            store.put_many(items[start : start + 500])
        live = time.perf_counter() - started
        audits = [AuditRecord(actor="worker", action="aws.ec2.stop_instances", target=f"i-{i}", outcome="succeeded")
                  for i in range(n)]  # fmt: skip
        started = time.perf_counter()
        for start in range(0, n, 500):
            store.put_many(audits[start : start + 500])
        chained = time.perf_counter() - started
        audits2 = [a.model_copy(update={"record_id": a.record_id + "b"}) for a in audits]
        started = time.perf_counter()
        with store.bulk_index():
            store.put_many(audits2)
        bulk = time.perf_counter() - started
    print(f"  inventory upserts (live HNSW)        {n / live:8.0f} records/s")
    print(f"  audit appends, hash-chained (live)   {n / chained:8.0f} records/s")
    print(
        f"  audit appends, bulk (index rebuilt)  {n / bulk:8.0f} records/s (incl. rebuilding the whole index)"
    )


def vectors(url: str, n: int, queries: int = 100) -> None:
    import psycopg

    print(f"-- HNSW vs exact search, {n:,} vectors of 384 dims (1,000 clusters), {queries} queries, top-10")
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    conn.execute("DROP TABLE IF EXISTS bench_vectors, bench_centers, bench_queries")
    started = time.perf_counter()
    conn.execute("SELECT setseed(0.42)")
    conn.execute(
        "CREATE TABLE bench_centers AS SELECT c, (SELECT array_agg(random()::real - 0.5) FROM generate_series(1, 384)"
        " WHERE c > 0) AS a FROM generate_series(1, 1000) c"
    )
    conn.execute("CREATE TABLE bench_vectors (id int PRIMARY KEY, v vector(384))")
    conn.execute(
        "INSERT INTO bench_vectors SELECT i, (SELECT array_agg(x + (random()::real - 0.5) * 0.6) FROM unnest(a) x)"
        "::vector FROM generate_series(1, %s) i JOIN bench_centers ON c = 1 + (i %% 1000)",
        (n,),
    )
    conn.execute(
        "CREATE TABLE bench_queries AS SELECT i, (SELECT array_agg(x + (random()::real - 0.5) * 0.6) FROM unnest(a) x)"
        "::vector AS v FROM generate_series(1, %s) i JOIN bench_centers ON c = 1 + ((i * 7919) %% 1000)",
        (queries,),
    )
    print(f"  generated in {time.perf_counter() - started:.1f}s")
    qs = [str(r[0]) for r in conn.execute("SELECT v::text FROM bench_queries ORDER BY i")]
    exact: list[set[int]] = []
    started = time.perf_counter()
    for q in qs:
        with conn.transaction():
            conn.execute("SET LOCAL enable_indexscan = off")
            rows = conn.execute(
                "SELECT id FROM bench_vectors ORDER BY v <=> %s::vector LIMIT 10", (q,)
            ).fetchall()
        exact.append({int(r[0]) for r in rows})
    exact_ms = (time.perf_counter() - started) * 1000 / len(qs)
    print(f"  exact (sequential scan)   mean {exact_ms:7.2f} ms/query")
    started = time.perf_counter()
    with conn.transaction():
        conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
        conn.execute("SET LOCAL max_parallel_maintenance_workers = 1")
        conn.execute(
            "CREATE INDEX ON bench_vectors USING hnsw (v vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
        )
    print(
        f"  HNSW build (m=16, ef_construction=64, maintenance_work_mem=1GB): {time.perf_counter() - started:.1f}s"
    )
    for ef in (40, 100, 200):
        lat: list[float] = []
        recall: list[float] = []
        for q, truth in zip(qs, exact, strict=True):
            with conn.transaction():
                conn.execute(f"SET LOCAL hnsw.ef_search = {ef}")
                t = time.perf_counter()
                rows = conn.execute(
                    "SELECT id FROM bench_vectors ORDER BY v <=> %s::vector LIMIT 10", (q,)
                ).fetchall()
                lat.append((time.perf_counter() - t) * 1000)
            recall.append(len({int(r[0]) for r in rows} & truth) / 10)
        p50 = statistics.median(lat)
        p95 = statistics.quantiles(lat, n=20)[18]
        print(
            f"  HNSW ef_search={ef:<4} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   recall@10 {statistics.mean(recall):.3f}"
        )
    conn.execute("DROP TABLE bench_vectors, bench_centers, bench_queries")
    conn.close()


def main() -> None:
    from escher.emulators import EmbeddedPostgres

    n = int(os.environ.get("ESCHER_BENCH_VECTORS", "100000"))
    with tempfile.TemporaryDirectory(prefix="escher-bench-") as tmp, EmbeddedPostgres(Path(tmp) / "pg") as pg:
        paths = Paths(Path(tmp) / "cfg", Path(tmp) / "data")
        paths.data_dir.mkdir()
        url: str = pg.url()
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE bench_inserts")
        quality(url, paths)
        inserts(pg.url("bench_inserts"), paths)
        vectors(url, n)


if __name__ == "__main__":
    main()
