package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// SettingsObject is the name of the object, inside a model directory, that
// records the settings its files are written with (see [Store.ClaimSettings]).
// It does not parse as a chunks key, so listings, exports and
// `read_parquet('…/*.parquet')` never see it.
const SettingsObject = "_nerstream_settings.json"

// ErrOtherSettings is wrapped by [Store.ClaimSettings] when a model directory
// already holds files written with other settings.
var ErrOtherSettings = errors.New("the output directory holds files written with other settings")

// ClaimSettings ties a model directory's output to settings, a JSON object
// of the settings beside the model bundle that change what the files hold
// (the bundle's own inputs are covered by its version, which is part of the
// directory name). The first caller records them (a conditional put: of two
// racing writers one wins, and the other reads the winner's); every later
// caller must present equal settings, else the error wraps
// [ErrOtherSettings] and names each differing setting with both values.
// Files of one directory therefore always mean the same thing.
func (s *Store) ClaimSettings(ctx context.Context, model string, settings []byte) error {
	if err := ValidateModelDir(model); err != nil {
		return fmt.Errorf("settings of %s: %w", s.name, err)
	}
	var want map[string]any
	if err := json.Unmarshal(settings, &want); err != nil {
		return fmt.Errorf("settings of %s model=%s: %w", s.name, model, err)
	}
	key := "model=" + model + "/" + SettingsObject
	if s.prefix != "" {
		key = s.prefix + "/" + key
	}
	for range 2 { // a lost race is read back once
		have, err := s.bucket.ReadAll(ctx, key)
		if err == nil {
			return compareSettings(s.name, key, have, want)
		}
		if gcerrors.Code(err) != gcerrors.NotFound {
			return fmt.Errorf("read %s key %s: %w", s.name, key, err)
		}
		err = s.bucket.WriteAll(ctx, key, settings, &blob.WriterOptions{ContentType: "application/json", IfNotExist: true})
		if err == nil {
			return nil
		}
		if gcerrors.Code(err) != gcerrors.FailedPrecondition {
			return fmt.Errorf("write %s key %s: %w", s.name, key, err)
		}
	}
	return fmt.Errorf("settings of %s key %s: written and removed concurrently", s.name, key)
}

// compareSettings returns nil when the recorded settings equal want, else an
// error naming every setting that differs.
func compareSettings(bucket, key string, recorded []byte, want map[string]any) error {
	var have map[string]any
	if err := json.Unmarshal(recorded, &have); err != nil {
		return fmt.Errorf("read %s key %s: %w", bucket, key, err)
	}
	var diff []string
	for _, k := range union(have, want) {
		h, _ := json.Marshal(have[k])
		w, _ := json.Marshal(want[k])
		if !bytes.Equal(h, w) {
			diff = append(diff, fmt.Sprintf("%s: recorded %s, now %s", k, h, w))
		}
	}
	if len(diff) == 0 {
		return nil
	}
	return fmt.Errorf("%s key %s: %w (%s)", bucket, key, ErrOtherSettings, strings.Join(diff, "; "))
}

func union(a, b map[string]any) []string {
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
