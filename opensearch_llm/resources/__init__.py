"""One module per ML Commons resource. Getters return None on 404; deletes tolerate missing resources.

The two kinds of pipeline share one module (:mod:`opensearch_llm.resources.pipelines`): ``ingest_pipeline`` and
``search_pipeline`` below have the interface of a resource module.
"""

from opensearch_llm.resources.pipelines import ingest_pipeline, search_pipeline

__all__ = ["ingest_pipeline", "search_pipeline"]
