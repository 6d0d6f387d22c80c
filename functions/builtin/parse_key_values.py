def parse_key_values(text: str) -> dict[str, str]:
    result = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        if "=" not in part:
            raise ValueError(f"missing '=' in {part.strip()!r}")
        key, value = part.split("=", 1)
        result[key.strip()] = value.strip()
    return result
