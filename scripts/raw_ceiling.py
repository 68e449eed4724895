#!/usr/bin/env python3
"""The raw ceiling for bench_pipeline.py: the same records, produced with confluent-kafka and
bulk-indexed with the Elasticsearch client outside Airflow, on the same services.

Run it with the Airflow environment's Python (it has confluent-kafka and elasticsearch):
  .sandbox/airflow-env/bin/python scripts/raw_ceiling.py --bootstrap H:P --es URL --count N --dags DIR
Prints one JSON object with records/s for each side.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--es", required=True)
    parser.add_argument("--count", type=int, default=15000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--dags", required=True, help="the project's dags folder (for weblogs.records)")
    args = parser.parse_args()
    sys.path.insert(0, args.dags)
    from confluent_kafka import Producer
    from elasticsearch import Elasticsearch, helpers

    from weblogs import records

    start = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    tag = f"bench-raw-{int(time.time())}"
    # The producer DAG's own settings and work (generate, encode, produce), minus Airflow.
    producer = Producer({"bootstrap.servers": args.bootstrap, "acks": "all", "enable.idempotence": True,
                         "linger.ms": 20, "compression.type": "lz4"})
    failures = []
    started = time.monotonic()
    for i, record in enumerate(records.generate(args.count, args.seed, start)):
        producer.produce(tag, key=record["event_id"].encode(), value=records.encode(record),
                         on_delivery=lambda err, _m: err and failures.append(err))
        if i % 1000 == 0:
            producer.poll(0)
    left = producer.flush(60)
    produce_s = time.monotonic() - started
    batch = list(records.generate(args.count, args.seed, start))
    es = Elasticsearch(args.es, request_timeout=120)
    actions = ({"_index": tag, "_id": r["event_id"], "_source": records.to_document(r)} for r in batch)
    started = time.monotonic()
    ok, _ = helpers.bulk(es, actions, chunk_size=2000)
    bulk_s = time.monotonic() - started
    es.indices.delete(index=tag, ignore_unavailable=True)
    print(json.dumps({"count": args.count, "produce_seconds": round(produce_s, 3),
                      "produce_rate": round(args.count / produce_s), "produce_failures": len(failures) + left,
                      "bulk_seconds": round(bulk_s, 3), "bulk_rate": round(ok / bulk_s), "bulk_ok": ok}))


if __name__ == "__main__":
    main()
