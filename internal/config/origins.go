package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"

	"github.com/cachesrv/cachesrv/internal/origin/spec"
)

// originKeys are the file's structured sections that are not settings.
var originKeys = map[string]bool{"origins": true, "routes": true}

// decodeOrigins fills c.Origins from the file's "origins" and "routes"
// sections. Shapes and units are checked here; meaning (templates, modes,
// route parameters) is checked by origin.Validate.
func (c *Config) decodeOrigins(file map[string]any, path string) error {
	var errs []error
	hook := mapstructure.ComposeDecodeHookFunc(
		func(f, t reflect.Type, data any) (any, error) {
			if t != reflect.TypeOf(time.Duration(0)) {
				return data, nil
			}
			switch v := data.(type) {
			case string:
				return parseDuration(v)
			case int:
				return time.Duration(v) * time.Second, nil
			}
			return data, nil
		},
		func(f, t reflect.Type, data any) (any, error) {
			if t.Kind() != reflect.Int64 || t == reflect.TypeOf(time.Duration(0)) {
				return data, nil
			}
			if s, ok := data.(string); ok {
				return ParseBytes(s)
			}
			return data, nil
		},
	)
	decode := func(in, out any, what string) {
		d, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
			DecodeHook: hook, ErrorUnused: true, WeaklyTypedInput: true, Result: out,
		})
		if err == nil {
			err = d.Decode(in)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s in %s: %s", what, path, strings.ReplaceAll(err.Error(), "\n", " ")))
		}
	}
	if v, ok := file["origins"]; ok {
		raw, ok := v.(map[string]any)
		if !ok {
			errs = append(errs, fmt.Errorf("origins in %s: must be a mapping of name to origin", path))
		} else {
			c.Origins.Origins = map[string]spec.Origin{}
			for name, ov := range raw {
				var o spec.Origin
				decode(ov, &o, "origins."+name)
				c.Origins.Origins[name] = o
			}
		}
	}
	if v, ok := file["routes"]; ok {
		decode(v, &c.Origins.Routes, "routes")
	}
	return errors.Join(errs...)
}

// keepOriginSections copies the "origins:" and "routes:" blocks of the file
// at path (top-level keys, up to the next top-level line) verbatim after
// data, so that CONFIG REWRITE keeps them: they are not settings and
// cannot be regenerated from CONFIG values.
func keepOriginSections(path string, data []byte) ([]byte, error) {
	old, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return data, nil
	}
	if err != nil {
		return nil, err
	}
	var keep []string
	in := false
	for _, line := range strings.SplitAfter(string(old), "\n") {
		top := len(line) > 0 && line[0] != ' ' && line[0] != '\t' && line[0] != '#' && line[0] != '\n' && line[0] != '-'
		if top {
			key, _, _ := strings.Cut(line, ":")
			in = originKeys[strings.TrimSpace(key)]
		}
		if in {
			keep = append(keep, line)
		}
	}
	if len(keep) == 0 {
		return data, nil
	}
	out := append(data, "\n## Origins and routes (kept as written; see docs/origins.md)\n\n"...)
	out = append(out, strings.Join(keep, "")...)
	if !strings.HasSuffix(string(out), "\n") {
		out = append(out, '\n')
	}
	return out, nil
}
