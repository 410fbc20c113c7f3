package config

import (
	"errors"
	"fmt"
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
