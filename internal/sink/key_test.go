package sink

import (
	"strings"
	"testing"
)

func TestKeyString(t *testing.T) {
	tests := []struct {
		name string
		key  Key
		want string
	}{
		{"no prefix", Key{Model: "bilstm-0123456789ab", Topic: "docs", Partition: 3, First: 0, Last: 41},
			"model=bilstm-0123456789ab/topic=docs/partition=3/00000000000000000000-00000000000000000041.parquet"},
		{"nested prefix", Key{Prefix: "out/ner", Model: "m.v2_x-ffffffffffff", Topic: "a.b-c_d", Partition: 12, First: 100, Last: 100},
			"out/ner/model=m.v2_x-ffffffffffff/topic=a.b-c_d/partition=12/00000000000000000100-00000000000000000100.parquet"},
		{"max offsets", Key{Prefix: "p", Model: "m-000000000000", Topic: "t", Partition: 0, First: 1<<63 - 2, Last: 1<<63 - 1},
			"p/model=m-000000000000/topic=t/partition=0/09223372036854775806-09223372036854775807.parquet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.key.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			got := tc.key.String()
			if got != tc.want {
				t.Fatalf("String() = %q, want %q", got, tc.want)
			}
			back, err := ParseKey(got)
			if err != nil {
				t.Fatalf("ParseKey(%q): %v", got, err)
			}
			if back != tc.key {
				t.Fatalf("ParseKey(String()) = %+v, want %+v", back, tc.key)
			}
			if !strings.HasPrefix(got, tc.key.PartitionPrefix()) {
				t.Fatalf("key %q does not start with its partition prefix %q", got, tc.key.PartitionPrefix())
			}
		})
	}
}

func TestKeyOrderIsOffsetOrder(t *testing.T) {
	a := Key{Model: "m-000000000000", Topic: "t", First: 9, Last: 99}
	b := Key{Model: "m-000000000000", Topic: "t", First: 10, Last: 10}
	if !(a.String() < b.String()) {
		t.Fatalf("lexical order %q >= %q, want offset order", a, b)
	}
}

func TestParseKeyRejects(t *testing.T) {
	const ok = "model=m-0123456789ab/topic=t/partition=1/00000000000000000001-00000000000000000002.parquet"
	if _, err := ParseKey(ok); err != nil {
		t.Fatalf("baseline key rejected: %v", err)
	}
	bad := []struct{ name, key string }{
		{"empty", ""},
		{"too few segments", "topic=t/partition=1/00000000000000000001-00000000000000000002.parquet"},
		{"leading slash", "/" + ok},
		{"double slash in prefix", "a//" + ok},
		{"dot-dot prefix", "../" + ok},
		{"not parquet", strings.TrimSuffix(ok, ".parquet") + ".json"},
		{"short offset", "model=m-0123456789ab/topic=t/partition=1/1-00000000000000000002.parquet"},
		{"signed offset", "model=m-0123456789ab/topic=t/partition=1/+0000000000000000001-00000000000000000002.parquet"},
		{"last before first", "model=m-0123456789ab/topic=t/partition=1/00000000000000000003-00000000000000000002.parquet"},
		{"offset overflow", "model=m-0123456789ab/topic=t/partition=1/00000000000000000001-99999999999999999999.parquet"},
		{"partition leading zero", "model=m-0123456789ab/topic=t/partition=01/00000000000000000001-00000000000000000002.parquet"},
		{"negative partition", "model=m-0123456789ab/topic=t/partition=-1/00000000000000000001-00000000000000000002.parquet"},
		{"partition overflow", "model=m-0123456789ab/topic=t/partition=2147483648/00000000000000000001-00000000000000000002.parquet"},
		{"no version", "model=m/topic=t/partition=1/00000000000000000001-00000000000000000002.parquet"},
		{"upper-case version", "model=m-0123456789AB/topic=t/partition=1/00000000000000000001-00000000000000000002.parquet"},
		{"bad topic char", "model=m-0123456789ab/topic=t$x/partition=1/00000000000000000001-00000000000000000002.parquet"},
		{"empty topic", "model=m-0123456789ab/topic=/partition=1/00000000000000000001-00000000000000000002.parquet"},
		{"swapped dirs", "topic=t/model=m-0123456789ab/partition=1/00000000000000000001-00000000000000000002.parquet"},
		{"prefix looks like key dir", "model=x/" + ok},
		{"three offsets", "model=m-0123456789ab/topic=t/partition=1/00000000000000000001-00000000000000000002-00000000000000000003.parquet"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKey(tc.key)
			if err == nil {
				t.Fatalf("ParseKey(%q) = %+v, want error", tc.key, k)
			}
			if tc.key != "" && !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("error %q does not name the key", err)
			}
		})
	}
}

func TestModelDir(t *testing.T) {
	tests := []struct {
		name, version, want string
		wantErr             bool
	}{
		{"bilstm", "0123456789abcdef0123", "bilstm-0123456789ab", false},
		{"bilstm", "sha256:0123456789ABCDEF", "bilstm-0123456789ab", false},
		{"jnlpba-bert.v1", "ffffffffffff", "jnlpba-bert.v1-ffffffffffff", false},
		{"bilstm", "0123", "", true},                // too short
		{"bilstm", "v1.2.3-release", "", true},      // not hex
		{"", "0123456789abcdef", "", true},          // no name
		{"a/b", "0123456789abcdef", "", true},       // slash
		{"tab\tname", "0123456789abcdef", "", true}, // control char
	}
	for _, tc := range tests {
		got, err := ModelDir(tc.name, tc.version)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ModelDir(%q, %q) = %q, %v; want %q, error %v", tc.name, tc.version, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestKeyValidate(t *testing.T) {
	good := Key{Model: "m-0123456789ab", Topic: "t", Partition: 0, First: 5, Last: 5}
	tests := []struct {
		name string
		edit func(*Key)
	}{
		{"negative partition", func(k *Key) { k.Partition = -1 }},
		{"negative first", func(k *Key) { k.First = -1 }},
		{"last before first", func(k *Key) { k.Last = 4 }},
		{"bad model", func(k *Key) { k.Model = "m" }},
		{"long topic", func(k *Key) { k.Topic = strings.Repeat("t", 250) }},
		{"prefix with trailing slash", func(k *Key) { k.Prefix = "p/" }},
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("good key: %v", err)
	}
	for _, tc := range tests {
		k := good
		tc.edit(&k)
		if err := k.Validate(); err == nil {
			t.Errorf("%s: Validate(%+v) = nil, want error", tc.name, k)
		}
	}
}

// FuzzParseKey checks that ParseKey never panics and that whatever it
// accepts is canonical: printing the key gives back the input.
func FuzzParseKey(f *testing.F) {
	f.Add("model=m-0123456789ab/topic=t/partition=1/00000000000000000001-00000000000000000002.parquet")
	f.Add("a/b/model=x.y-ffffffffffff/topic=docs/partition=0/00000000000000000000-09223372036854775807.parquet")
	f.Add("model=/topic=/partition=/-.parquet")
	f.Add("p/model=m-0123456789ab/topic=t/partition=007/1-2.parquet")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			return
		}
		if got := k.String(); got != s {
			t.Fatalf("ParseKey(%q).String() = %q", s, got)
		}
		if err := k.Validate(); err != nil {
			t.Fatalf("ParseKey(%q) accepted an invalid key: %v", s, err)
		}
		if !strings.HasPrefix(s, k.PartitionPrefix()) {
			t.Fatalf("key %q does not start with its partition prefix %q", s, k.PartitionPrefix())
		}
	})
}
