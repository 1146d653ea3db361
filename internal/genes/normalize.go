package genes

import (
	"strings"
	"unicode"
)

var greek = map[rune]string{
	'α': "alpha", 'β': "beta", 'γ': "gamma", 'δ': "delta", 'ε': "epsilon", 'ζ': "zeta", 'η': "eta",
	'θ': "theta", 'ι': "iota", 'κ': "kappa", 'λ': "lambda", 'μ': "mu", 'ν': "nu", 'ξ': "xi",
	'ο': "omicron", 'π': "pi", 'ρ': "rho", 'σ': "sigma", 'τ': "tau", 'υ': "upsilon", 'φ': "phi",
	'χ': "chi", 'ψ': "psi", 'ω': "omega",
}

// Normalize returns the lookup key of a gene name or mention (see the
// package comment). It returns "" for text with no letter or digit.
func Normalize(s string) string {
	var words []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			words = append(words, b.String())
			b.Reset()
		}
	}
	for _, c := range strings.ToLower(s) {
		switch {
		case greek[c] != "":
			flush()
			words = append(words, greek[c])
		case unicode.IsLetter(c) || unicode.IsDigit(c):
			b.WriteRune(c)
		default:
			flush()
		}
	}
	flush()
	for len(words) > 1 {
		switch words[len(words)-1] {
		case "protein", "proteins", "gene", "genes", "mrna":
			words = words[:len(words)-1]
			continue
		}
		break
	}
	if len(words) > 1 && words[0] == "human" {
		words = words[1:]
	}
	return strings.Join(words, "")
}

// greekInitial rewrites a key ending in a spelled-out Greek letter to end in
// its Latin initial ("il1beta" → "il1b"), or returns "".
func greekInitial(key string) string {
	for _, g := range []string{"alpha", "beta", "gamma", "delta", "kappa"} {
		if strings.HasSuffix(key, g) && len(key) > len(g) {
			return key[:len(key)-len(g)] + g[:1]
		}
	}
	return ""
}
