"""Route handlers of :class:`tests.unit.ml_double.MLDouble`: OpenSearch core, cluster settings, ML Commons,
pipelines and user indices.

Each handler gets ``(double, params, body, *path_groups)`` and returns a JSON-ready answer (status
200) or ``(status, answer)``; :class:`Refused` answers an OpenSearch-shaped error. Handlers run
under the double's lock. Reasons and statuses follow ML Commons 2.19/3.x (see README "Facts
checked on real nodes").
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable

TRUSTED = "plugins.ml_commons.trusted_connector_endpoints_regex"
PRIVATE_IP = "plugins.ml_commons.connector.private_ip_enabled"
AUTO_DEPLOY = "plugins.ml_commons.model_auto_deploy.enable"
INDEX = {"model_group": ".plugins-ml-model-group", "connector": ".plugins-ml-connector", "model": ".plugins-ml-model",
         "agent": ".plugins-ml-agent"}
LIVE = ("DEPLOYED", "DEPLOYING", "PARTIALLY_DEPLOYED")
SAFE = re.compile(r"[\w\s.,!?():@\-'/\"]*")
ML = "/_plugins/_ml"
ROUTES: list = []


class Refused(Exception):
    """An error answer: ``status`` with ``{"error": {"type", "reason", "root_cause"}, "status"}``."""

    def __init__(self, status: int, reason: str, type_: str = "status_exception") -> None:
        super().__init__(reason)
        self.status, self.reason, self.type = status, reason, type_

    def body(self) -> dict:
        cause = {"type": self.type, "reason": self.reason}
        return {"error": {"root_cause": [dict(cause)], **cause}, "status": self.status}


def route(methods: str, pattern: str) -> Callable:
    def register(fn: Callable) -> Callable:
        for method in methods.split(","):
            ROUTES.append((method, re.compile(pattern), fn))
        return fn
    return register


def dispatch(d: Any, method: str, path: str, params: dict, body: Any) -> tuple[int, Any]:
    """The status and JSON answer of one request (state already changed when it returns)."""
    for verb, pattern, fn in ROUTES:
        found = pattern.fullmatch(path)
        if verb == method and found:
            try:
                out = fn(d, params, body if body is not None else {}, *found.groups())
            except Refused as exc:
                return exc.status, exc.body()
            return out if isinstance(out, tuple) else (200, out)
    return 400, {"error": f"no handler found for uri [{path}] and method [{method}]"}


# --- OpenSearch core ---------------------------------------------------------------------------

NODE_ID = "dblNode0000000000000"


@route("GET", "/_plugins/_security/authinfo")
def authinfo(d: Any, params: dict, body: Any) -> Any:
    """The caller, when the double plays a cluster with the security plugin (``d.caller`` set)."""
    caller = getattr(d, "caller", None)
    if not caller:
        return 400, {"error": "no handler found for uri [/_plugins/_security/authinfo] and method [GET]"}
    return {"user_name": caller["user"], "backend_roles": caller.get("backend_roles", []),
            "roles": caller.get("roles", [])}


@route("GET,HEAD", "/")
def info(d: Any, params: dict, body: Any) -> Any:
    return {"name": "ml-double", "cluster_name": "ml-double", "cluster_uuid": getattr(d, "cluster_uuid", "ml-double-uuid"),
            "version": {"distribution": "opensearch", "number": d.version, "build_type": "tar"},
            "tagline": "The OpenSearch Project: https://opensearch.org/"}


PLUGINS = ("opensearch-job-scheduler", "opensearch-knn", "opensearch-ml")  # as on a local node (2.19.6, 3.6.0)


def types(*names: str) -> list:
    return [{"type": n} for n in names]


@route("GET", r"/_nodes(?:/([^/]+))?(?:/([^/]+))?")
def nodes(d: Any, params: dict, body: Any, *_: Any) -> Any:
    """One node; with ML Commons, the processors it adds (the 2.19.6 integ-test zip has no other)."""
    ml = d.ml_plugin
    names = [*PLUGINS, *(["opensearch-security"] if getattr(d, "caller", None) else [])]  # users: the security plugin
    node = {"name": "ml-double-node", "host": "127.0.0.1", "ip": "127.0.0.1", "version": d.version,
            "roles": list(d.roles),
            "plugins": [{"name": n, "version": f"{d.version}.0"} for n in names] if ml else [],
            "ingest": {"processors": types("ml_inference") if ml else []},
            "search_pipelines": {"request_processors": types("ml_inference", "question_rewrite") if ml else [],
                                 "response_processors": types("ml_inference", "retrieval_augmented_generation")
                                 if ml else []}}
    return {"_nodes": {"total": 1, "successful": 1, "failed": 0}, "cluster_name": "ml-double",
            "nodes": {getattr(d, "node_id", NODE_ID): node}}


@route("GET", "/_cat/plugins")
def cat_plugins(d: Any, params: dict, body: Any) -> Any:
    names = PLUGINS if d.ml_plugin else ()
    return [{"name": "ml-double-node", "component": n, "version": f"{d.version}.0"} for n in names]


def flatten(tree: dict, prefix: str = "") -> dict:
    out: dict = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def nest(flat: dict) -> dict:
    out: dict = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def as_setting(value: Any) -> Any:
    """How OpenSearch echoes a setting value: strings, lists of strings."""
    if isinstance(value, (list, tuple)):
        return [as_setting(v) for v in value]
    return str(value).lower() if isinstance(value, bool) else str(value)


@route("GET", "/_cluster/settings")
def get_settings(d: Any, params: dict, body: Any) -> Any:
    shape = (lambda x: dict(x)) if str(params.get("flat_settings")).lower() == "true" else nest
    out = {"persistent": shape(d.persistent), "transient": shape(d.transient)}
    if str(params.get("include_defaults")).lower() == "true":
        out["defaults"] = shape({k: v for k, v in d.defaults.items() if k not in d.persistent and k not in d.transient})
    return out


@route("PUT", "/_cluster/settings")
def put_settings(d: Any, params: dict, body: Any) -> Any:
    echo = {}
    for section, store in (("persistent", d.persistent), ("transient", d.transient)):
        changed = flatten(body.get(section) or {})
        for key, value in changed.items():
            if value is None:
                store.pop(key, None)
            else:
                store[key] = as_setting(value)
        echo[section] = nest({k: as_setting(v) for k, v in changed.items() if v is not None})
    return {"acknowledged": True, **echo}


# --- searching the ML indices ------------------------------------------------------------------

def tokens(text: Any) -> list:
    return re.findall(r"[a-z0-9_]+", str(text).lower())


def field_value(doc_id: str, doc: dict, name: str) -> Any:
    if name == "_id":
        return doc_id
    value: Any = doc
    for part in name.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def matches(query: dict, doc_id: str, doc: dict) -> bool:
    """A small subset of the query DSL: match_all, match, match_phrase, term(s), ids, exists, bool."""
    (kind, spec), = query.items() if query else {"match_all": {}}.items()
    if kind == "match_all":
        return True
    if kind == "bool":
        clauses = lambda key: [spec[key]] if isinstance(spec.get(key), dict) else spec.get(key) or []
        must = clauses("must") + clauses("filter")
        should, must_not = clauses("should"), clauses("must_not")
        return (all(matches(q, doc_id, doc) for q in must) and not any(matches(q, doc_id, doc) for q in must_not)
                and (not should or bool(must) or any(matches(q, doc_id, doc) for q in should)))
    if kind == "ids":
        return doc_id in spec.get("values", [])
    if kind == "exists":
        return field_value(doc_id, doc, spec["field"]) is not None
    (name, wanted), = spec.items()
    if isinstance(wanted, dict):
        wanted = wanted.get("query", wanted.get("value"))
    keyword = name.endswith(".keyword")
    value = field_value(doc_id, doc, name[: -len(".keyword")] if keyword else name)
    if value is None:
        return False
    if kind in ("term", "terms"):
        options = wanted if kind == "terms" else [wanted]
        return any(str(w) == str(value) if keyword or name == "_id" else str(w).lower() in tokens(value)
                   for w in options)
    have, want = tokens(value), tokens(wanted)
    if kind == "match":
        return bool(set(have) & set(want))
    if kind == "match_phrase":
        return any(have[i:i + len(want)] == want for i in range(len(have) - len(want) + 1))
    raise Refused(400, f"unknown query [{kind}]", "parsing_exception")


def search(d: Any, kind: str, body: dict, public: Callable[[dict], dict]) -> Any:
    if d.search_404_until_created and kind not in d.indices:
        raise Refused(404, f"no such index [{INDEX[kind]}]", "index_not_found_exception")
    found = [(i, doc) for i, doc in d.store(kind).items() if matches(body.get("query") or {}, i, doc)]
    start, size = int(body.get("from", 0)), int(body.get("size", 10))
    hits = [{"_index": INDEX[kind], "_id": i, "_version": 1, "_seq_no": n, "_primary_term": 1, "_score": 1.0,
             "_source": public(doc)} for n, (i, doc) in enumerate(found[start:start + size])]
    return {"took": 1, "timed_out": False, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {"total": {"value": len(found), "relation": "eq"}, "max_score": 1.0 if hits else None,
                     "hits": hits}}


def written(kind: str, rid: str, result: str) -> dict:
    return {"_index": INDEX[kind], "_id": rid, "_version": 2, "result": result, "forced_refresh": True,
            "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": 1, "_primary_term": 1}


def check_names(d: Any, what: str, body: dict) -> None:
    if int(d.version.split(".")[0]) < 3:
        return
    for key in ("name", "description"):
        if not SAFE.fullmatch(str(body.get(key) or "")):
            raise Refused(400, f"{what} {key} can only contain letters, numbers, spaces, and basic punctuation: "
                               ".,!?():@-_'/\"", "illegal_argument_exception")


# --- model groups ------------------------------------------------------------------------------

@route("POST", f"{ML}/model_groups/_register")
def register_group(d: Any, params: dict, body: dict) -> Any:
    check_names(d, "Model group", body)
    taken = [gid for gid, g in d.model_groups.items() if g["name"] == body.get("name")]
    if taken:
        raise Refused(400, f"The name you provided is already being used by a model group with ID: {taken[0]}.",
                      "illegal_argument_exception")
    now = d.now()
    gid = d.add("model_group", {"name": body.get("name"), "latest_version": 0,
                                "description": body.get("description", ""), "created_time": now,
                                "last_updated_time": now})
    return {"model_group_id": gid, "status": "CREATED"}


@route("GET,POST", f"{ML}/model_groups/_search")
def search_groups(d: Any, params: dict, body: dict) -> Any:
    return search(d, "model_group", body, dict)


@route("GET", f"{ML}/model_groups/([^/]+)")
def get_group(d: Any, params: dict, body: dict, gid: str) -> Any:
    if gid not in d.model_groups:
        raise Refused(404, "Failed to find model group with the provided model group id")
    return dict(d.model_groups[gid])


@route("GET", f"{ML}/profile/models")
def profile_models(d: Any, params: dict, body: dict) -> Any:
    served = {mid: {"model_state": "DEPLOYED", "worker_nodes": ["node-1"]} for mid, m in d.models.items()
              if m.get("model_state") == "DEPLOYED"}
    return {"nodes": {"node-1": {"models": served}} if served else {}}


@route("PUT", f"{ML}/model_groups/([^/]+)")
def update_group(d: Any, params: dict, body: dict, gid: str) -> Any:
    if gid not in d.model_groups:
        raise Refused(404, "Failed to find model group with the provided model group id")
    check_names(d, "Model group", {"name": d.model_groups[gid]["name"], **body})
    d.model_groups[gid].update({k: v for k, v in body.items() if k in ("name", "description")},
                               last_updated_time=d.now())
    return {"status": "Updated"}


@route("DELETE", f"{ML}/model_groups/([^/]+)")
def delete_group(d: Any, params: dict, body: dict, gid: str) -> Any:
    if gid not in d.model_groups:
        return written("model_group", gid, "not_found")
    if any(m.get("model_group_id") == gid for m in d.models.values()):
        raise Refused(409, "Cannot delete the model group when it has associated model versions")
    del d.model_groups[gid]
    return written("model_group", gid, "deleted")


# --- search and ingest pipelines, user indices -------------------------------------------------

def pipelines(d: Any, which: str) -> dict:
    return d.search_pipelines if which == "search" else d.ingest_pipelines


@route("PUT", r"/_(search|ingest)/pipeline/([^/]+)")
def put_pipeline(d: Any, params: dict, body: dict, which: str, name: str) -> Any:
    pipelines(d, which)[name] = body
    return {"acknowledged": True}


@route("GET", r"/_(search|ingest)/pipeline(?:/([^/]+))?")
def get_pipelines(d: Any, params: dict, body: dict, which: str, name: Any) -> Any:
    found = {n: b for n, b in pipelines(d, which).items() if name in (None, n)}
    return (200, found) if found else (404, {})  # OpenSearch answers an empty 404 when none matches


@route("DELETE", r"/_(search|ingest)/pipeline/([^/]+)")
def delete_pipeline(d: Any, params: dict, body: dict, which: str, name: str) -> Any:
    if pipelines(d, which).pop(name, None) is None:
        raise Refused(404, f"pipeline [{name}] is missing", "resource_not_found_exception")
    return {"acknowledged": True}


def user_index(d: Any, name: str) -> dict:
    if name not in d.user_indices:
        raise Refused(404, f"no such index [{name}]", "index_not_found_exception")
    return d.user_indices[name]


@route("PUT", r"/([^/_.][^/]*)")
def create_index(d: Any, params: dict, body: dict, name: str) -> Any:
    if name in d.user_indices:
        raise Refused(400, f"index [{name}/dblUuid] already exists", "resource_already_exists_exception")
    d.user_indices[name] = {"settings": body.get("settings") or {}, "mappings": body.get("mappings") or {}, "docs": {}}
    return {"acknowledged": True, "shards_acknowledged": True, "index": name}


@route("DELETE", r"/([^/_.][^/]*)")
def delete_index(d: Any, params: dict, body: dict, name: str) -> Any:
    user_index(d, name)
    del d.user_indices[name]
    return {"acknowledged": True}


@route("GET", r"/(?:([^/]+)/)?_mapping")
def get_mapping(d: Any, params: dict, body: dict, name: Any) -> Any:
    """``filter_path=*.mappings._meta`` keeps only ``_meta`` and drops indices without one, as OpenSearch does;
    the pattern ``*,-.*`` is every index but the dot-prefixed ones."""
    found = {INDEX[k]: {"mappings": {"_meta": {"schema_version": 1}}} for k in sorted(d.indices) if k in INDEX}
    found.update({n: {"mappings": i["mappings"]} for n, i in d.user_indices.items()})
    if name == "*,-.*":
        found = {n: m for n, m in found.items() if not n.startswith(".")}
    elif name is not None:
        found = {name: {"mappings": user_index(d, name)["mappings"]}}
    if params.get("filter_path") == "*.mappings._meta":
        found = {n: {"mappings": {"_meta": m["mappings"]["_meta"]}} for n, m in found.items()
                 if "_meta" in m["mappings"]}
    return found


def bad_field(index: dict, doc: dict) -> Any:
    props = index["mappings"].get("properties") or {}
    for key, value in doc.items():
        kind = (props.get(key) or {}).get("type")
        if kind in ("integer", "long") and not (isinstance(value, int) or str(value).lstrip("-").isdigit()):
            return key, kind
    return None


@route("POST,PUT", r"/([^/_][^/]*)/_bulk")
def bulk(d: Any, params: dict, body: Any, name: str) -> Any:
    """Index actions only; a missing index is created, a missing ``pipeline`` or a non-number integer fails the item."""
    lines = [json.loads(line) for line in str(body).splitlines() if line.strip()]
    index = d.user_indices.setdefault(name, {"settings": {}, "mappings": {}, "docs": {}})
    items = []
    for action, doc in zip(lines[::2], lines[1::2]):
        rid = action["index"].get("_id") or d.new_id("doc")
        item: dict = {"_index": name, "_id": rid, "_version": 1, "result": "created", "status": 201}
        pipeline, wrong = params.get("pipeline"), bad_field(index, doc)
        if pipeline and pipeline not in d.ingest_pipelines:
            item = {"_index": name, "_id": rid, "status": 400, "error": {
                "type": "illegal_argument_exception", "reason": f"pipeline with id [{pipeline}] does not exist"}}
        elif wrong:
            item = {"_index": name, "_id": rid, "status": 400, "error": {
                "type": "mapper_parsing_exception",
                "reason": f"failed to parse field [{wrong[0]}] of type [{wrong[1]}] in document with id '{rid}'"}}
        else:
            index["docs"][rid] = doc
        items.append({"index": item})
    return {"took": 1, "errors": any("error" in i["index"] for i in items), "items": items}


@route("GET,POST", r"/([^/_][^/]*)/_search")
def search_index(d: Any, params: dict, body: dict, name: str) -> Any:
    docs = user_index(d, name)["docs"]
    pipeline = params.get("search_pipeline")
    if pipeline and pipeline not in d.search_pipelines:
        raise Refused(400, f"Pipeline {pipeline} is not defined", "illegal_argument_exception")
    found = [(i, doc) for i, doc in docs.items() if matches(body.get("query") or {}, i, doc)]
    hits = [{"_index": name, "_id": i, "_score": 1.0, "_source": doc} for i, doc in found[: int(body.get("size", 10))]]
    return {"took": 1, "timed_out": False, "hits": {"total": {"value": len(found), "relation": "eq"}, "hits": hits}}
