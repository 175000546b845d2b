package policy

import "strings"

// match reports whether s matches an IAM pattern: '*' matches any run of characters
// (the empty one included), '?' exactly one character; every other character matches
// itself. Unlike path.Match, '/' is an ordinary character (a resource
// "arn:aws:s3:::b/*" covers every key, slashes included) and there are no character
// classes or escapes ("[" is a character keys may contain). Runes, not bytes, so '?'
// matches one character of a UTF-8 key.
func match(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	p, t := []rune(pattern), []rune(s)
	// The classic linear backtracking matcher: remember the last '*' and how much of
	// s it has taken, and let it take one more character on a mismatch.
	pi, ti, star, mark := 0, 0, -1, 0
	for ti < len(t) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == t[ti]):
			pi++
			ti++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ti
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ti = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// matchFold is match ignoring case (action names, StringEqualsIgnoreCase).
func matchFold(pattern, s string) bool {
	return match(strings.ToLower(pattern), strings.ToLower(s))
}
