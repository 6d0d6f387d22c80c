"""A ChatML chat handler for llama-cpp-python whose tool calls always parse.

The local server registers it (as :data:`NAME`) in its own process before it starts; the
harness never imports llama_cpp. Why not a stock format: SmolLM2's built-in template fails
on an assistant turn whose content is None (every tool-call turn), and llama-cpp-python's
``chatml-function-calling`` drops tool results from the prompt and rejects
``tool_choice="required"``.

Behaviour, by ``tool_choice``:

- a named function (``{"type": "function", "function": {"name": ...}}``) or ``"required"``:
  the reply is generated under a JSON-schema grammar of ``{"name": ..., "arguments": ...}``,
  so it always parses (unless ``max_tokens`` cuts it, as with any provider). Tiny models
  produce tool calls reliably only this way.
- ``"auto"``: free text; a ``<tool_call>{...}</tool_call>`` block naming a known tool becomes
  a tool call, anything else stays a text reply.
- ``"none"``, or no tools: free text.

Prompt layout: ChatML turns; tools are described in the system turn; assistant tool calls
are written back as ``<tool_call>`` blocks and tool results as ``tool`` turns, so a
multi-turn tool conversation reads the same to the model as what it produced.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

NAME = "codearc-chatml-tools"
DEFAULT_SYSTEM = "You are a helpful assistant."
DEFAULT_MAX_TOKENS = 512
"""Cap when a request sets none: an unbounded ramble would otherwise fill the whole context."""
END = "<|im_end|>"
CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"
_CALL_BLOCK = re.compile(re.escape(CALL_OPEN) + r"\s*(\{.*?\})\s*" + re.escape(CALL_CLOSE), re.S)
_NAME_FIELD = re.compile(r'"name"\s*:\s*"([^"]*)"')
_SAMPLING = frozenset(
    [
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "typical_p",
        "seed",
        "repeat_penalty",
        "presence_penalty",
        "frequency_penalty",
        "tfs_z",
        "mirostat_mode",
        "mirostat_tau",
        "mirostat_eta",
        "logit_bias",
        "logits_processor",
    ]
)
"""Request options passed on to ``Llama.create_completion``; the rest are ignored."""


def _text(content: Any) -> str:
    # OpenAI content is a string, None, or a list of parts; only text parts mean anything here.
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    return str(content)


def _describe_tools(tools: Sequence[Mapping[str, Any]]) -> str:
    lines = ["", "", "You can call these tools:"]
    for tool in tools:
        fn = tool["function"]
        lines.append(f"- {fn['name']}: {fn.get('description', '').strip()}")
        lines.append(f"  arguments (JSON schema): {json.dumps(fn.get('parameters', {}))}")
    lines.append(
        f'To call a tool, reply with {CALL_OPEN}{{"name": <tool name>, "arguments": '
        f"{{...}}}}{CALL_CLOSE}."
    )
    return "\n".join(lines)


def _call_text(call: Mapping[str, Any]) -> str:
    fn = call.get("function", {})
    args = fn.get("arguments", "{}")
    try:
        args_obj = json.loads(args) if isinstance(args, str) else args
    except ValueError:
        args_obj = args  # a malformed call the model made earlier is shown back verbatim
    body = json.dumps({"name": fn.get("name", ""), "arguments": args_obj})
    return f"{CALL_OPEN}\n{body}\n{CALL_CLOSE}"


def render_prompt(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None = None
) -> str:
    """The ChatML prompt for ``messages``, ending with an open assistant turn."""
    tool_text = _describe_tools(tools) if tools else ""
    turns: list[str] = []
    if not messages or messages[0].get("role") != "system":
        turns.append(f"<|im_start|>system\n{DEFAULT_SYSTEM}{tool_text}{END}\n")
        tool_text = ""
    for msg in messages:
        role = msg.get("role", "user")
        body = _text(msg.get("content"))
        if role == "system":
            body += tool_text
            tool_text = ""
        elif role == "assistant" and msg.get("tool_calls"):
            calls = "\n".join(_call_text(c) for c in msg["tool_calls"])
            body = f"{body}\n{calls}" if body else calls
        elif role in ("tool", "function"):
            role = "tool"
            body = f"<tool_response>\n{body}\n</tool_response>"
        turns.append(f"<|im_start|>{role}\n{body}{END}\n")
    turns.append("<|im_start|>assistant\n")
    return "".join(turns)


def reply_schema(tools: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """JSON schema of a tool-call reply restricted to ``names`` (one name: that tool only)."""
    by_name = {t["function"]["name"]: t["function"] for t in tools}
    options = []
    for name in names:
        if name not in by_name:
            raise ValueError(f"tool_choice names {name!r}, which is not among the tools")
        params = by_name[name].get("parameters") or {"type": "object"}
        options.append(
            {
                "type": "object",
                "properties": {"name": {"const": name}, "arguments": params},
                "required": ["name", "arguments"],
            }
        )
    return options[0] if len(options) == 1 else {"oneOf": options}


def forced_names(tools: Sequence[Mapping[str, Any]] | None, tool_choice: Any) -> list[str]:
    """Tool names a reply must call; empty when the reply may be free text."""
    if not tools:
        return []
    if isinstance(tool_choice, Mapping):
        return [tool_choice.get("function", {}).get("name", "")]
    if tool_choice == "required":
        return [t["function"]["name"] for t in tools]
    return []


def parse_forced_reply(text: str, names: Sequence[str]) -> tuple[str, str] | None:
    """(name, arguments JSON) from a grammar-constrained reply; None if too cut to name a tool.

    A reply cut by ``max_tokens`` keeps its raw argument text, as other providers do.
    """
    try:
        # strict=False: llama.cpp's JSON grammar lets raw newlines into strings; the
        # arguments are re-encoded below, so the client always receives valid JSON.
        obj = json.loads(text, strict=False)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and obj.get("name") in names:
        return str(obj["name"]), json.dumps(obj.get("arguments", {}))
    match = _NAME_FIELD.search(text)
    name = match.group(1) if match else (names[0] if len(names) == 1 else None)
    if name not in names:
        return None
    raw = text.split('"arguments"', 1)[1].lstrip(" :") if '"arguments"' in text else ""
    return str(name), raw


def parse_auto_reply(text: str, names: Sequence[str]) -> tuple[str, list[tuple[str, str]]]:
    """Split free text into (remaining content, [(name, arguments JSON)]) for known tools."""
    calls: list[tuple[str, str]] = []
    for block in _CALL_BLOCK.findall(text):
        try:
            obj = json.loads(block, strict=False)
        except ValueError:
            continue
        if isinstance(obj, dict) and obj.get("name") in names:
            calls.append((str(obj["name"]), json.dumps(obj.get("arguments", {}))))
    content = _CALL_BLOCK.sub("", text).strip() if calls else text
    return content, calls


def _response(
    completion: Mapping[str, Any], content: str | None, calls: list[tuple[str, str]], finish: str
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [
            {
                "id": f"call_{uuid.uuid4().hex[:24]}",
                "type": "function",
                "function": {"name": name, "arguments": args},
            }
            for name, args in calls
        ]
    return {
        "id": "chat" + str(completion.get("id", uuid.uuid4().hex)),
        "object": "chat.completion",
        "created": int(completion.get("created", time.time())),
        "model": completion.get("model", ""),
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": completion.get("usage", {}),
    }


def chat_handler(
    *,
    llama: Any,
    messages: Sequence[Mapping[str, Any]],
    functions: Sequence[Mapping[str, Any]] | None = None,
    function_call: Any = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    tool_choice: Any = None,
    stream: bool = False,
    stop: str | list[str] | None = None,
    max_tokens: int | None = None,
    **sampling: Any,
) -> dict[str, Any]:
    """llama-cpp-python chat completion handler (see the module docstring)."""
    from llama_cpp.llama_grammar import LlamaGrammar

    if stream:
        raise ValueError(f"chat format {NAME} does not stream; send stream=false")
    if functions and not tools:  # the legacy OpenAI form of the same request
        tools = [{"type": "function", "function": f} for f in functions]
        if isinstance(function_call, Mapping):
            tool_choice = {"type": "function", "function": {"name": function_call.get("name")}}
        elif function_call is not None:
            tool_choice = function_call
    stops = [stop] if isinstance(stop, str) else list(stop or [])
    options = {k: v for k, v in sampling.items() if k in _SAMPLING and v is not None}
    names = forced_names(tools, tool_choice)
    prompt = render_prompt(messages, tools if tool_choice != "none" else None)
    limit = max_tokens or DEFAULT_MAX_TOKENS
    if names:
        schema = reply_schema(tools or (), names)
        completion = llama.create_completion(
            prompt=prompt + CALL_OPEN + "\n",
            max_tokens=limit,
            stop=[END, *stops],
            grammar=LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False),
            **options,
        )
        text = completion["choices"][0]["text"]
        parsed = parse_forced_reply(text, names)
        cut = completion["choices"][0].get("finish_reason") == "length"
        if parsed is None:
            return _response(completion, text, [], "length" if cut else "stop")
        return _response(completion, None, [parsed], "length" if cut else "tool_calls")
    completion = llama.create_completion(
        prompt=prompt, max_tokens=limit, stop=[END, *stops], **options
    )
    text = completion["choices"][0]["text"]
    finish = completion["choices"][0].get("finish_reason") or "stop"
    if tools and tool_choice != "none":
        known = [t["function"]["name"] for t in tools]
        content, calls = parse_auto_reply(text, known)
        if calls:
            return _response(completion, content or None, calls, "tool_calls")
    return _response(completion, text, [], finish)


def register() -> None:
    """Make :data:`NAME` available as a ``chat_format`` in this process (idempotent)."""
    from llama_cpp.llama_chat_format import LlamaChatCompletionHandlerRegistry

    # Plain dicts and sequences in, a plain dict out: structurally what llama_cpp expects,
    # though not spelled with its TypedDicts.
    handler: Any = chat_handler
    LlamaChatCompletionHandlerRegistry().register_chat_completion_handler(
        NAME, handler, overwrite=True
    )
