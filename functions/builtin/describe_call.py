def describe_call(*args, **kwargs) -> str:
    names = ", ".join(f"{k}={v!r}" for k, v in sorted(kwargs.items()))
    return f"{len(args)} positional; {names or 'no keywords'}"
