"""Prompts OpenSearch ML Commons builds around a question, read back by the fakes' reply rule.

Both shapes are the same in ML Commons 2.19 and 3.6:

* RAG (the ``retrieval_augmented_generation`` search response processor, OpenAI message format,
  ``PromptUtil.buildMessageParameter``): the first ``user`` message holds the user instructions,
  one ``"SEARCH RESULT <n>: <passage>"`` text part per passage and, when the conversation has
  history, the first earlier question (undecorated) as its last part; then come the earlier
  answers and questions as ``assistant`` / ``user`` messages.  The last message is a ``user`` one
  whose text parts end with ``"QUESTION: <question>\\n"`` and ``"ANSWER:"``.
* Agent (a ``conversational_flow`` agent, ``MLConversationalFlowAgentRunner``): the tool prompt
  holds ``${parameters.chat_history}``, which is :data:`HISTORY_HEADER` followed by one
  ``"Human:<question>\\nAssistant:<answer>\\n"`` entry per earlier turn, oldest first
  (``ConversationIndexMessage.toString()``; turns without an answer are left out).  The answers are
  the model's earlier replies, so they may span lines and, from a fake, repeat a whole earlier
  prompt with its ``Human:`` / ``Assistant:`` lines: only the first earlier question is read from
  the history.  The new question is read from the end of the prompt (see :func:`agent_turn`).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

HISTORY_HEADER = "Below is Chat History between Human and AI which sorted by time with asc order:\n"
EARLIER = " Earlier you asked: "
_FIRST_ENTRY = re.compile(r"Human:(.*?)\nAssistant:[^\n]*\n", re.DOTALL)
_LABEL = re.compile(r"[A-Za-z]+:")
_ASKER = re.compile(r"^(?:Human|Question|QUESTION):\s*")
_RESULT_1 = "SEARCH RESULT 1: "


def text_parts(content: Any) -> List[str]:
    """The texts of a message ``content``: a string is one part, a list gives the ``text`` of each dict part."""
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [p.get("text", "") for p in content if isinstance(p, dict)]
    return []


def undecorate(text: str) -> str:
    """``"QUESTION: q\\n"`` or ``"q ANSWER:"`` -> ``"q"`` (surrounding whitespace dropped)."""
    text = text.strip()
    if text.startswith("QUESTION:"):
        text = text[len("QUESTION:"):]
    if text.endswith("ANSWER:"):
        text = text[: -len("ANSWER:")]
    return text.strip()


def _role(m: Any) -> Optional[str]:
    return m.get("role") if isinstance(m, dict) else None


def is_rag_prompt(messages: Sequence[Dict[str, Any]]) -> bool:
    """True when the last message is a ``user`` one whose parts end with ``"QUESTION: ..."`` and ``"ANSWER:"``."""
    if not messages or _role(messages[-1]) != "user":
        return False
    parts = text_parts(messages[-1].get("content"))
    return len(parts) >= 2 and parts[-1].strip() == "ANSWER:" and parts[-2].lstrip().startswith("QUESTION:")


def _first_earlier_question(messages: Sequence[Dict[str, Any]], first_user: Dict[str, Any]) -> Optional[str]:
    if first_user is messages[-1] or not any(_role(m) == "assistant" for m in messages):
        return None
    asked = [q for q in (undecorate(p) for p in text_parts(first_user.get("content"))) if q]
    return asked[-1] if asked else None


def rag_reply(messages: Sequence[Dict[str, Any]]) -> Optional[str]:
    """``"From the search results: <passage 1>"`` (or ``"No search results."``) plus
    ``" Earlier you asked: <first earlier question>"`` when there is history; None for other prompts."""
    if not is_rag_prompt(messages):
        return None
    first_user = next(m for m in messages if _role(m) == "user")
    passage = next((p[len(_RESULT_1):].strip() for p in text_parts(first_user.get("content"))
                    if p.startswith(_RESULT_1)), None)
    answer = "No search results." if passage is None else f"From the search results: {passage}"
    earlier = _first_earlier_question(messages, first_user)
    return answer if earlier is None else f"{answer}{EARLIER}{earlier}"


def _new_question(tail: str) -> str:
    for line in reversed(tail.splitlines()):
        line = line.strip()
        if line and not _LABEL.fullmatch(line):
            return _ASKER.sub("", line)
    return ""


def agent_turn(text: str) -> Optional[Tuple[str, str]]:
    """(new question, first earlier question) of a prompt holding an agent's chat history, else None.

    The first earlier question is the ``Human:`` text of the first history entry.  The new question
    is the last line of the prompt that is not blank or a bare label such as ``Assistant:``, without a
    leading ``Human:`` or ``Question:`` (ML Commons' examples end with ``Human:<question>`` and
    ``Assistant:`` lines after the history)."""
    start = text.find(HISTORY_HEADER)
    first = _FIRST_ENTRY.match(text, start + len(HISTORY_HEADER)) if start >= 0 else None
    if first is None:
        return None
    return _new_question(text[first.end():]), first.group(1).strip()
