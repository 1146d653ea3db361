package segment

import (
	"unicode"
	"unicode/utf8"
)

// abbrevAlways lists words (case-sensitive, without the final period) after
// which a period never ends a sentence, whatever follows: "e.g. ECP",
// "vs. Control", "Fig. 2", "Dr. Smith".
var abbrevAlways = set(
	"e.g", "i.e", "eg", "ie", "viz", "cf", "Cf", "vs", "Vs", "v",
	"Fig", "Figs", "fig", "figs", "approx", "Approx", "ca", "c",
	"Dr", "Drs", "Prof", "Mr", "Mrs", "Ms", "St", "Mt", "Ste",
	"sp", "spp", "ssp", "subsp", "var", "cv", "sect",
	"Eq", "Eqs", "eq", "eqs", "Ref", "Refs", "ref", "refs",
	"Suppl", "suppl", "Tab", "Nr", "nr",
)

// abbrevBeforeNumber lists words after which a period does not end a
// sentence unless the next token starts with an upper-case letter: numbers
// ("No. 5"), citations ("et al. (1990)", "J. Virol. 63:3040"), and words that
// also end sentences ("etc.", "Inc.", "min.").
var abbrevBeforeNumber = set(
	"No", "no", "Nos", "nos", "Vol", "vol", "Vols", "pp", "p", "Ch", "ch",
	"Chap", "Sec", "Sect", "Art", "Pt", "pt", "ed", "eds", "Ed", "Eds",
	"al", "etc", "Inc", "Ltd", "Co", "Corp", "Jr", "Sr", "resp", "min", "max",
	"U.S", "U.K", "U.S.A", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug",
	"Sep", "Sept", "Oct", "Nov", "Dec",
	// journal abbreviations in references ("Mol. Cell. Biol. 8:5581")
	"Mol", "Cell", "Biol", "Biochem", "Biophys", "Biochim", "Acta", "Proc",
	"Natl", "Acad", "Sci", "Med", "Exp", "Immunol", "Virol", "Chem", "Res",
	"Nucl", "Acids", "Genet", "Lett", "Commun", "Clin", "Invest", "Engl",
	"Physiol", "Pharmacol", "Endocrinol", "Oncol", "Hematol", "Cancer",
	"Nat", "Rev", "Ann", "Annu", "Dev", "Struct", "Microbiol", "Pathol",
)

// labelWords are the words one of which a structured-abstract label must
// contain ("MATERIALS AND METHODS:", "BACKGROUND & AIMS:").
var labelWords = set(
	"BACKGROUND", "OBJECTIVE", "OBJECTIVES", "AIM", "AIMS", "PURPOSE",
	"INTRODUCTION", "METHOD", "METHODS", "MATERIAL", "MATERIALS", "DESIGN",
	"SETTING", "SETTINGS", "PATIENTS", "PARTICIPANTS", "SUBJECTS",
	"INTERVENTION", "INTERVENTIONS", "MEASUREMENTS", "MEASURES", "OUTCOME",
	"OUTCOMES", "RESULT", "RESULTS", "FINDINGS", "CONCLUSION", "CONCLUSIONS",
	"INTERPRETATION", "DISCUSSION", "CONTEXT", "SUMMARY", "ABSTRACT",
	"HYPOTHESIS", "RATIONALE", "SIGNIFICANCE", "IMPORTANCE", "LIMITATIONS",
	"PROCEDURE", "PROCEDURES", "PROBLEM", "OBSERVATIONS", "STUDY", "CASE",
	"REPORT", "PRESENTATION", "SOURCES", "SELECTION", "EXTRACTION",
	"SYNTHESIS", "EXPERIMENTAL", "EXPERIMENT", "EXPERIMENTS", "ANIMALS",
	"POPULATION", "SAMPLE", "TRIAL", "REGISTRATION", "FUNDING", "EVIDENCE",
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// labelLen returns the byte length of a structured-abstract label starting at
// i (upper-case words, one of them in labelWords, at least 4 letters, then
// ':' and whitespace or the end of the text), colon included; 0 when there is
// none.
func labelLen(text string, i int) int {
	const maxLabel = 64
	j, letters, known := i, 0, false
	for j-i <= maxLabel {
		ws := j
		for j < len(text) && text[j] >= 'A' && text[j] <= 'Z' {
			j++
		}
		if j == ws || j >= len(text) {
			return 0
		}
		letters += j - ws
		if !known && labelWords[text[ws:j]] {
			known = true
		}
		switch text[j] {
		case ':':
			if !known || letters < 4 {
				return 0
			}
			if j+1 < len(text) {
				if r, _ := decodeAt(text, j+1); !isSpace(r) {
					return 0
				}
			}
			return j + 1 - i
		case ' ', '/', '&', ',', '-':
			// separators between words: at most " & "
			s := j
			for j < len(text) && j-s < 3 && (text[j] == ' ' || text[j] == '/' || text[j] == '&' || text[j] == ',' || text[j] == '-') {
				j++
			}
		default:
			return 0
		}
	}
	return 0
}

// isSpace reports whether r is white space (unicode.IsSpace).
func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || (r >= '\t' && r <= '\r')
	}
	return unicode.IsSpace(r)
}

// isLineBreak reports whether r ends a line; a line break always ends a
// sentence.
func isLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', 0x85, 0x2028, 0x2029:
		return true
	}
	return false
}

// isCloser reports whether r may follow terminal punctuation inside the
// sentence it ends: closing quotes and brackets.
func isCloser(r rune) bool {
	switch r {
	case ')', ']', '}', '"', '\'', '\u2019', '\u201d', '\u00bb', '\u203a':
		return true
	}
	return false
}

// isOpener reports whether r opens a bracket or a quotation.
func isOpener(r rune) bool {
	switch r {
	case '(', '[', '{', '"', '\'', '`', '\u2018', '\u201c', '\u00ab', '\u2039':
		return true
	}
	return false
}

func isUpper(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'A' && r <= 'Z'
	}
	return unicode.IsUpper(r) || unicode.IsTitle(r)
}

// isPlausibleStart reports whether a sentence may start with r: an
// upper-case letter, a digit, an opening bracket or quote.
func isPlausibleStart(r rune) bool {
	if r < utf8.RuneSelf {
		return (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || isOpener(r)
	}
	return unicode.IsUpper(r) || unicode.IsTitle(r) || unicode.IsDigit(r) || isOpener(r)
}

// isGeneLikeToken reports whether the token at k starts with a lower-case
// letter and has a digit or an upper-case letter later ("p53", "cDNA",
// "c-Myc").
func isGeneLikeToken(text string, k int) bool {
	r, w := decodeAt(text, k)
	if !unicode.IsLower(r) {
		return false
	}
	for i, n := k+w, 0; i < len(text) && n < 32; n++ {
		r, w := decodeAt(text, i)
		if isSpace(r) {
			break
		}
		if unicode.IsDigit(r) || isUpper(r) {
			return true
		}
		i += w
	}
	return false
}

// isLowerWord reports whether word is at least three letters, all lower case
// (an ordinary word, not a unit or an abbreviation).
func isLowerWord(word string) bool {
	n := 0
	for _, r := range word {
		if !unicode.IsLower(r) {
			return false
		}
		n++
	}
	return n >= 3
}

// trimOpeners removes leading brackets and quotes from a word.
func trimOpeners(word string) string {
	for word != "" {
		r, w := utf8.DecodeRuneInString(word)
		if !isOpener(r) {
			break
		}
		word = word[w:]
	}
	return word
}

// isInitials reports whether word (without its final period) is one
// upper-case letter or several joined by '.', ".-" or '-' ("J", "C.J",
// "H.-M", "T.-W").
func isInitials(word string) bool {
	if word == "" {
		return false
	}
	letter := true // expecting a letter
	for _, r := range word {
		if letter {
			if !isUpper(r) {
				return false
			}
			letter = false
			continue
		}
		switch r {
		case '.':
			letter = true
		case '-':
			letter = true
		default:
			return false
		}
	}
	// "C.-" would end expecting a letter; "C.-J" ends on a letter
	return !letter
}

// isInitialAt reports whether the token at k is an initial ("M." or "C.J."
// or "H.-M.") followed by whitespace.
func isInitialAt(text string, k int) bool {
	e := k
	for e < len(text) && e-k <= 12 {
		r, w := decodeAt(text, e)
		if isSpace(r) || r == ',' {
			break
		}
		e += w
	}
	tok := text[k:e]
	if len(tok) < 2 || tok[len(tok)-1] != '.' {
		return false
	}
	return isInitials(tok[:len(tok)-1])
}

// prevWord returns the whitespace-delimited token that ends before ws (the
// start of the current word), not reaching before start, without its final
// period; "" when there is none.
func prevWord(text string, start, ws int) string {
	e := ws
	for e > start {
		r, w := utf8.DecodeLastRuneInString(text[:e])
		if !isSpace(r) {
			break
		}
		e -= w
	}
	if e <= start || text[e-1] != '.' {
		return ""
	}
	b := e
	for b > start && e-b <= 12 {
		r, w := utf8.DecodeLastRuneInString(text[:b])
		if isSpace(r) {
			break
		}
		b -= w
	}
	return text[b : e-1]
}

// isEnumerator reports whether word is a list marker: one or two digits, a
// lower-case roman numeral up to "x", or a single letter, possibly in
// brackets ("1", "(ii)", "a").
func isEnumerator(word string) bool {
	if n := len(word); n >= 2 && (word[n-1] == ')' || word[n-1] == ']') {
		word = word[:n-1]
	}
	switch len(word) {
	case 1:
		c := word[0]
		return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
	case 2:
		if word[0] >= '0' && word[0] <= '9' && word[1] >= '0' && word[1] <= '9' {
			return true
		}
	}
	switch word {
	case "i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x":
		return true
	}
	return false
}
