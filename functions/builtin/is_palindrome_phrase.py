def is_palindrome_phrase(phrase: str) -> bool:
    letters = [c.lower() for c in phrase if c.isalnum()]
    return letters == letters[::-1]
