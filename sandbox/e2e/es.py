"""A minimal Elasticsearch JSON client over urllib (the harness needs a handful of calls)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Iterator

from sandbox.errors import SandboxError

_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class ElasticsearchError(SandboxError):
    """Elasticsearch answered with an error."""


@dataclass(frozen=True)
class Es:
    url: str
    timeout: float = 30.0

    def request(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with _LOCAL.open(req, timeout=self.timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            text = exc.read().decode(errors="replace")
            raise ElasticsearchError(f"Elasticsearch {method} {path} answered {exc.code}: {text[:300]}") from exc
        except OSError as exc:
            raise ElasticsearchError(f"Elasticsearch at {self.url} is not answering ({exc})",
                                     hint="check `sandbox status`") from exc

    def exists(self, index: str) -> bool:
        try:
            self.request("HEAD", f"/{index}")
            return True
        except ElasticsearchError as exc:
            if " 404:" in exc.message:
                return False
            raise

    def count(self, index: str, query: dict | None = None) -> int:
        if not self.exists(index):
            return 0
        body = {"query": query} if query else None
        return int(self.request("POST", f"/{index}/_count", body)["count"])

    def search(self, index: str, body: dict) -> dict:
        return self.request("POST", f"/{index}/_search", body)

    def refresh(self, index: str) -> None:
        if self.exists(index):
            self.request("POST", f"/{index}/_refresh")

    def existing_ids(self, index: str, ids: list[str], chunk: int = 1000) -> set[str]:
        """Which of these document ids exist (multi-get: fast even on a large index)."""
        found: set[str] = set()
        if not ids or not self.exists(index):
            return found
        for i in range(0, len(ids), chunk):
            docs = [{"_index": index, "_id": d, "_source": False} for d in ids[i:i + chunk]]
            for doc in self.request("POST", "/_mget", {"docs": docs})["docs"]:
                if doc.get("found"):
                    found.add(doc["_id"])
        return found

    def scan(self, index: str, source: list[str] | None = None, size: int = 5000) -> Iterator[dict]:
        """Every document of the index (scroll in index order), with only `source` fields when
        given; the scroll is cleared even when the caller stops early."""
        if not self.exists(index):
            return
        body: dict = {"size": size, "sort": ["_doc"]}
        if source is not None:
            body["_source"] = source
        page = self.request("POST", f"/{index}/_search?scroll=2m", body)
        scroll_id = page.get("_scroll_id")
        try:
            while page["hits"]["hits"]:
                yield from page["hits"]["hits"]
                page = self.request("POST", "/_search/scroll", {"scroll": "2m", "scroll_id": scroll_id})
                scroll_id = page.get("_scroll_id", scroll_id)
        finally:
            if scroll_id:
                try:
                    self.request("DELETE", "/_search/scroll", {"scroll_id": scroll_id})
                except ElasticsearchError:
                    pass  # it expires on its own

    def field_names(self, index: str) -> set[str]:
        if not self.exists(index):
            return set()
        mapping = self.request("GET", f"/{index}/_mapping")
        names: set[str] = set()
        for body in mapping.values():
            names |= set(body.get("mappings", {}).get("properties", {}))
        return names
