package sink

import (
	"fmt"
	"strconv"
	"strings"
)

// Key names one chunks file: the rows produced from Kafka offsets
// First..Last (inclusive) of one partition of one topic by one model.
//
// Its string form (see [Key.String]) is
//
//	<prefix>/model=<model>/topic=<topic>/partition=<p>/<first %020d>-<last %020d>.parquet
//
// with no leading "/" when Prefix is empty.
type Key struct {
	Prefix    string // key prefix inside the bucket, no leading or trailing "/"; may be empty
	Model     string // model directory, "<name>-<version12>" (see ModelDir)
	Topic     string // Kafka topic
	Partition int    // Kafka partition, >= 0
	First     int64  // first Kafka offset covered, >= 0
	Last      int64  // last Kafka offset covered (inclusive), >= First
}

// offsetDigits is the zero-padded width of offsets in file names: enough for
// any non-negative int64, so lexical order equals numeric order.
const offsetDigits = 20

// maxTopicLen is Kafka's limit on topic names.
const maxTopicLen = 249

// String returns the object key of k. It does not validate k; use
// [Key.Validate] (Store.Upload does).
func (k Key) String() string {
	var b strings.Builder
	if k.Prefix != "" {
		b.WriteString(k.Prefix)
		b.WriteByte('/')
	}
	fmt.Fprintf(&b, "model=%s/topic=%s/partition=%d/%0*d-%0*d.parquet",
		k.Model, k.Topic, k.Partition, offsetDigits, k.First, offsetDigits, k.Last)
	return b.String()
}

// PartitionPrefix returns the key prefix (ending in "/") under which all files
// of k's model, topic and partition lie.
func (k Key) PartitionPrefix() string {
	p := fmt.Sprintf("model=%s/topic=%s/partition=%d/", k.Model, k.Topic, k.Partition)
	if k.Prefix != "" {
		p = k.Prefix + "/" + p
	}
	return p
}

// Validate reports why k does not name a valid chunks file, or nil.
func (k Key) Validate() error {
	if err := ValidatePrefix(k.Prefix); err != nil {
		return err
	}
	if err := ValidateModelDir(k.Model); err != nil {
		return err
	}
	if err := ValidateTopic(k.Topic); err != nil {
		return err
	}
	switch {
	case k.Partition < 0:
		return fmt.Errorf("partition %d is negative", k.Partition)
	case k.First < 0:
		return fmt.Errorf("first offset %d is negative", k.First)
	case k.Last < k.First:
		return fmt.Errorf("last offset %d is before first offset %d", k.Last, k.First)
	}
	return nil
}

// ParseKey parses an object key written by [Key.String]. Only the canonical
// form is accepted (20-digit offsets, partition without leading zeros, valid
// model directory and topic), so ParseKey(s) succeeds exactly when
// ParseKey(s).String() == s and the key validates.
func ParseKey(s string) (Key, error) {
	var k Key
	parts := strings.Split(s, "/")
	if len(parts) < 4 {
		return k, fmt.Errorf("parse key %q: want <prefix>/model=.../topic=.../partition=.../<first>-<last>.parquet", s)
	}
	n := len(parts)
	k.Prefix = strings.Join(parts[:n-4], "/")
	var ok bool
	if k.Model, ok = strings.CutPrefix(parts[n-4], "model="); !ok {
		return k, fmt.Errorf("parse key %q: segment %q does not start with model=", s, parts[n-4])
	}
	if k.Topic, ok = strings.CutPrefix(parts[n-3], "topic="); !ok {
		return k, fmt.Errorf("parse key %q: segment %q does not start with topic=", s, parts[n-3])
	}
	ps, ok := strings.CutPrefix(parts[n-2], "partition=")
	if !ok {
		return k, fmt.Errorf("parse key %q: segment %q does not start with partition=", s, parts[n-2])
	}
	p, err := parseCanonicalUint(ps, 0)
	if err != nil || p > int64(maxInt32) {
		return k, fmt.Errorf("parse key %q: bad partition %q", s, ps)
	}
	k.Partition = int(p)
	name, ok := strings.CutSuffix(parts[n-1], ".parquet")
	if !ok {
		return k, fmt.Errorf("parse key %q: file name %q does not end in .parquet", s, parts[n-1])
	}
	fs, ls, ok := strings.Cut(name, "-")
	if !ok {
		return k, fmt.Errorf("parse key %q: file name %q is not <first>-<last>.parquet", s, parts[n-1])
	}
	if k.First, err = parseCanonicalUint(fs, offsetDigits); err != nil {
		return k, fmt.Errorf("parse key %q: first offset: %w", s, err)
	}
	if k.Last, err = parseCanonicalUint(ls, offsetDigits); err != nil {
		return k, fmt.Errorf("parse key %q: last offset: %w", s, err)
	}
	if err := k.Validate(); err != nil {
		return k, fmt.Errorf("parse key %q: %w", s, err)
	}
	if c := k.String(); c != s { // e.g. a leading "/" (empty prefix segment)
		return k, fmt.Errorf("parse key %q: not in canonical form %q", s, c)
	}
	return k, nil
}

const maxInt32 = 1<<31 - 1

// parseCanonicalUint parses a non-negative decimal int64. With width > 0 the
// number must have exactly width digits (zero padded); with width 0 it must
// have no leading zeros.
func parseCanonicalUint(s string, width int) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	if width > 0 && len(s) != width {
		return 0, fmt.Errorf("%q has %d digits, want %d", s, len(s), width)
	}
	if width == 0 && len(s) > 1 && s[0] == '0' {
		return 0, fmt.Errorf("%q has a leading zero", s)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	return v, nil
}

// ValidatePrefix reports why p cannot be a key prefix: it may be empty, must
// not start or end with "/", must not contain empty, "." or ".." segments,
// and must not contain "=" in a segment that looks like a key directory
// (model=, topic=, partition=), which would make keys ambiguous.
func ValidatePrefix(p string) error {
	if p == "" {
		return nil
	}
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "" || seg == "." || seg == "..":
			return fmt.Errorf("prefix %q has an empty, \".\" or \"..\" segment", p)
		case strings.HasPrefix(seg, "model=") || strings.HasPrefix(seg, "topic=") || strings.HasPrefix(seg, "partition="):
			return fmt.Errorf("prefix %q has a segment %q that looks like a key directory", p, seg)
		case strings.ContainsFunc(seg, func(r rune) bool { return r < 0x20 || r == 0x7f || r == 0xfffd }):
			return fmt.Errorf("prefix %q has control or invalid characters", p)
		}
	}
	return nil
}

// ValidateTopic reports why t is not a valid Kafka topic name (1 to 249
// characters from [a-zA-Z0-9._-], not "." or "..").
func ValidateTopic(t string) error {
	if t == "" || len(t) > maxTopicLen || t == "." || t == ".." {
		return fmt.Errorf("topic %q is not a valid Kafka topic name (1 to %d characters, not . or ..)", t, maxTopicLen)
	}
	for i := 0; i < len(t); i++ {
		if !isNameByte(t[i]) {
			return fmt.Errorf("topic %q has character %q; Kafka allows [a-zA-Z0-9._-]", t, t[i])
		}
	}
	return nil
}

// versionDigits is the number of hex digits of the model version kept in the
// model directory.
const versionDigits = 12

// ModelDir returns the model directory "<name>-<version12>" of a model
// bundle: name (1 to 100 characters from [a-zA-Z0-9._-]) followed by the
// first 12 hex digits of version, lower-cased. version must start with at
// least 12 hex digits (a content hash such as a SHA-256 in hex); an optional
// "sha256:" prefix is skipped.
func ModelDir(name, version string) (string, error) {
	v := strings.ToLower(strings.TrimPrefix(version, "sha256:"))
	if len(v) < versionDigits {
		return "", fmt.Errorf("model %q: version %q has fewer than %d hex digits", name, version, versionDigits)
	}
	dir := name + "-" + v[:versionDigits]
	if err := ValidateModelDir(dir); err != nil {
		return "", fmt.Errorf("model %q version %q: %w", name, version, err)
	}
	return dir, nil
}

// ValidateModelDir reports why m is not a model directory as made by
// [ModelDir]: a name of 1 to 100 characters from [a-zA-Z0-9._-], a "-", and
// 12 lower-case hex digits.
func ValidateModelDir(m string) error {
	i := strings.LastIndexByte(m, '-')
	if i < 1 || i > 100 || len(m)-i-1 != versionDigits {
		return fmt.Errorf("model directory %q is not <name>-<12 hex digits>", m)
	}
	name, ver := m[:i], m[i+1:]
	if name == "." || name == ".." {
		return fmt.Errorf("model directory %q has name %q", m, name)
	}
	for j := 0; j < len(name); j++ {
		if !isNameByte(name[j]) {
			return fmt.Errorf("model directory %q: name has character %q; allowed are [a-zA-Z0-9._-]", m, name[j])
		}
	}
	for j := 0; j < len(ver); j++ {
		if c := ver[j]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("model directory %q: version %q is not 12 lower-case hex digits", m, ver)
		}
	}
	return nil
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}
