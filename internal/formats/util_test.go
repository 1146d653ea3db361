package formats

import (
	"regexp"
	"strconv"
	"testing"
)

func regexpMatch(model, s string) bool {
	return regexp.MustCompile(model).MatchString(" "+s) || regexp.MustCompile(model).MatchString(s)
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("bad integer %q", s)
	}
	return n
}
