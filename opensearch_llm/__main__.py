"""``python -m opensearch_llm`` runs the CLI."""

from opensearch_llm.cli import main

if __name__ == "__main__":
    main()
