"""What the cluster's ML Commons does with a connector's retry settings, in one sentence for ``plan``.

ML Commons retries an upstream call only when ``client_config.max_retry_times`` is not 0 (the default is 0).
Before 3.8 it retries only AWS throttling (a ``X-Amzn-ErrorType: ThrottlingException`` header,
``MLSdkAsyncHttpResponseHandler``); from 3.8 any provider's 429 and 5xx (ml-commons #4882). Either way,
``predict``, ``chat`` and ``smoke`` of opensearch-llm retry a 429 and ML Commons' own throttling themselves
(:func:`opensearch_llm.resources.predict.predict`); server-side consumers (RAG pipelines, agents) get only
the cluster's retries.
"""

from __future__ import annotations

import re
from typing import Mapping

ANY_PROVIDER_FROM = (3, 8)


def _version(text: str) -> tuple:
    found = re.match(r"(\d+)\.(\d+)", text or "")
    return (int(found.group(1)), int(found.group(2))) if found else (0, 0)


def retry_note(client_config: Mapping, cluster_version: str) -> str:
    """Pure: how a 429 or 5xx of this connector's provider is retried on ``cluster_version``."""
    times = int(client_config.get("max_retry_times", 0) or 0)
    ours = "predict, chat and smoke retry a 429 and ML Commons throttling themselves"
    if times == 0:
        return f"ML Commons does not retry this connector (max_retry_times 0); {ours}, RAG pipelines and agents do not"
    count = "without limit" if times < 0 else f"up to {times} times"
    policy = client_config.get("retry_backoff_policy", "constant")
    window = client_config.get("retry_timeout_seconds", 30)
    if _version(cluster_version) >= ANY_PROVIDER_FROM:
        return (f"ML Commons {cluster_version} retries the provider's 429 and 5xx {count} ({policy} backoff, within "
                f"{window} s), for RAG pipelines and agents too; {ours} after that")
    return (f"ML Commons {cluster_version} retries only AWS throttling (X-Amzn-ErrorType header; any 429/5xx from "
            f"3.8), so max_retry_times {times} does nothing for this provider; {ours}, RAG pipelines and agents do not")
