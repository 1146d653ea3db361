package document

import (
	"encoding/json"
	"errors"
	"fmt"
)

// scanner finds the bounds of JSON values in data without decoding them,
// so that a message too large to decode can be walked one value at a time.
// It checks structure (brackets, string quoting, commas and colons), not
// the contents of numbers and literals: the values it returns are decoded
// and validated by encoding/json afterwards.
type scanner struct {
	data  []byte
	pos   int
	depth int
}

// maxDepth bounds nesting, as encoding/json does, so that a deeply nested
// value cannot exhaust the stack.
const maxDepth = 10000

var errEnd = errors.New("unexpected end of JSON")

func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\r', '\n':
			s.pos++
		default:
			return
		}
	}
}

// expect skips whitespace and consumes c.
func (s *scanner) expect(c byte) error {
	s.ws()
	if s.pos >= len(s.data) {
		return errEnd
	}
	if s.data[s.pos] != c {
		return fmt.Errorf("offset %d: want %q, got %q", s.pos, c, s.data[s.pos])
	}
	s.pos++
	return nil
}

// peek skips whitespace and returns the next byte (0 at the end).
func (s *scanner) peek() byte {
	s.ws()
	if s.pos >= len(s.data) {
		return 0
	}
	return s.data[s.pos]
}

// object reads {"key": value, ...}; field must consume each value.
func (s *scanner) object(field func(key string) error) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	if s.peek() == '}' {
		s.pos++
		return nil
	}
	for {
		raw, err := s.str()
		if err != nil {
			return err
		}
		var key string
		if len(raw) > 256 || json.Unmarshal(raw, &key) != nil {
			return fmt.Errorf("offset %d: bad object key", s.pos)
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		if done, err := s.next('}'); done || err != nil {
			return err
		}
	}
}

// array reads [value, ...]; elem must consume each value.
func (s *scanner) array(elem func() error) error {
	if err := s.expect('['); err != nil {
		return err
	}
	if s.peek() == ']' {
		s.pos++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		if done, err := s.next(']'); done || err != nil {
			return err
		}
	}
}

// next consumes a comma (false) or the closing byte (true).
func (s *scanner) next(closing byte) (bool, error) {
	switch c := s.peek(); c {
	case ',':
		s.pos++
		return false, nil
	case closing:
		s.pos++
		return true, nil
	case 0:
		return false, errEnd
	default:
		return false, fmt.Errorf("offset %d: want ',' or %q, got %q", s.pos, closing, c)
	}
}

// value returns the raw bytes of the next value and moves past it.
func (s *scanner) value() ([]byte, error) {
	start := s.pos
	if s.depth++; s.depth > maxDepth {
		return nil, fmt.Errorf("offset %d: nested deeper than %d", s.pos, maxDepth)
	}
	defer func() { s.depth-- }()
	var err error
	switch s.peek() {
	case '"':
		_, err = s.str()
	case '{':
		err = s.object(func(string) error { _, err := s.value(); return err })
	case '[':
		err = s.array(func() error { _, err := s.value(); return err })
	case 0:
		err = errEnd
	default:
		err = s.scalar()
	}
	if err != nil {
		return nil, err
	}
	for start < s.pos && (s.data[start] == ' ' || s.data[start] == '\t' || s.data[start] == '\r' || s.data[start] == '\n') {
		start++
	}
	return s.data[start:s.pos], nil
}

// str reads a string, quotes included.
func (s *scanner) str() ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return nil, err
	}
	start := s.pos - 1
	for s.pos < len(s.data) {
		switch c := s.data[s.pos]; {
		case c == '\\':
			s.pos += 2
		case c == '"':
			s.pos++
			return s.data[start:s.pos], nil
		case c < 0x20:
			return nil, fmt.Errorf("offset %d: control character in string", s.pos)
		default:
			s.pos++
		}
	}
	return nil, errEnd
}

// scalar reads a number, true, false or null (checked later by
// encoding/json).
func (s *scanner) scalar() error {
	start := s.pos
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			break
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c == '-' || c == '+' || c == '.' || c == 'E') {
			return fmt.Errorf("offset %d: unexpected %q", s.pos, c)
		}
		s.pos++
	}
	if s.pos == start {
		return fmt.Errorf("offset %d: want a value", s.pos)
	}
	return nil
}
