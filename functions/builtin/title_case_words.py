def title_case_words(text: str, keep_short: bool = True) -> str:
    words = text.split(" ")
    out = []
    for i, w in enumerate(words):
        if keep_short and i > 0 and len(w) <= 2:
            out.append(w.lower())
        else:
            out.append(w[:1].upper() + w[1:].lower())
    return " ".join(out)
