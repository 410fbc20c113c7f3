package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/cachesrv/cachesrv/internal/splitargs"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// configEnv names the config file when --config is not given.
const configEnv = "CACHESRV_CONFIG"

// Load builds a validated Config from command-line arguments (without the
// program name) and an environment in os.Environ form. For each setting the
// first of these wins:
//
//  1. the flag --<name> VALUE or --<name>=VALUE (list settings accumulate
//     over repeated flags);
//  2. the environment variable CACHESRV_<NAME> (upper case, dashes as
//     underscores; an empty value counts as unset);
//  3. the key <name> in the YAML file named by --config or CACHESRV_CONFIG;
//  4. the default from Default().
//
// --help and --version make Load return ErrHelp or ErrVersion. Unknown flags,
// stray arguments, a missing or malformed file are errors. Otherwise every
// problem found (unknown keys in the file, unparsable or out-of-range values,
// conflicting settings) is reported at once, as an errors.Join of
// "<name>: <problem>" errors (most are *ParamError). Environment variables
// with the prefix that name no setting are ignored, so that tools may use
// the prefix for themselves.
func Load(args []string, environ []string) (*Config, error) {
	fs, cl := newFlagSet()
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("command line: %w", err)
	}
	switch {
	case cl.help:
		return nil, ErrHelp
	case cl.version:
		return nil, ErrVersion
	case fs.NArg() > 0:
		return nil, fmt.Errorf("command line: unexpected argument %q: give settings as --name value and the file as --config FILE", fs.Arg(0))
	}

	env := environMap(environ)
	path := cl.config
	if !fs.Changed("config") {
		path = env[configEnv]
	}
	var (
		file map[string]any
		errs []error
	)
	if path != "" {
		var err error
		if file, err = readFile(path); err != nil {
			return nil, err
		}
		for _, key := range slices.Sorted(maps.Keys(file)) {
			if lookup(key) == nil && !originKeys[key] {
				errs = append(errs, fmt.Errorf("%s: unknown setting in %s", key, path))
			}
		}
	}

	c := Default()
	for _, p := range table {
		var raw, from string
		if f := fs.Lookup(p.Name); f.Changed {
			raw, from = f.Value.String(), "flag --"+p.Name
		} else if v, ok := env[p.Env]; ok {
			raw, from = v, "environment "+p.Env
		} else if v, ok := file[p.Name]; ok {
			var err error
			if raw, err = fileValue(p, v); err != nil {
				errs = append(errs, &ParamError{Name: p.Name, Err: err, From: "a " + yamlKind(v) + " in " + path})
				continue
			}
			from = path
		} else {
			continue
		}
		if err := c.apply(p, raw); err != nil {
			errs = append(errs, &ParamError{Name: p.Name, Err: err, From: shorten(raw) + " from " + from})
		}
	}
	if err := c.decodeOrigins(file, path); err != nil {
		errs = append(errs, err)
	}
	// Values that failed above kept their valid defaults, so this adds only
	// the problems between settings.
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if path != "" {
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
	}
	c.ConfigFile = path
	return c, nil
}

// apply parses raw into p's field, leaving c unchanged on error.
func (c *Config) apply(p *param, raw string) error {
	d := c.Clone()
	if err := p.set(d, raw); err != nil {
		return err
	}
	*c = *d
	return nil
}

// cmdline holds the flags that are not settings.
type cmdline struct {
	help, version bool
	config        string
}

func newFlagSet() (*pflag.FlagSet, *cmdline) {
	fs := pflag.NewFlagSet("cachesrv", pflag.ContinueOnError)
	fs.SetOutput(io.Discard) // Usage() is ours; errors are returned
	fs.Usage = func() {}
	fs.SortFlags = false
	var cl cmdline
	fs.BoolVarP(&cl.help, "help", "h", false, "print this help and exit")
	fs.BoolVarP(&cl.version, "version", "v", false, "print the version and exit")
	fs.StringVar(&cl.config, "config", "", "YAML configuration file")
	for _, p := range table {
		if p.list {
			fs.Var(new(wordsValue), p.Name, p.Doc)
		} else {
			// Values stay strings here so that every source goes through
			// the same parser and error messages.
			fs.String(p.Name, "", p.Doc)
		}
	}
	return fs, &cl
}

// wordsValue is a flag value that accumulates over repeated flags.
type wordsValue struct{ parts []string }

func (w *wordsValue) String() string { return strings.Join(w.parts, " ") }
func (w *wordsValue) Type() string   { return "words" }
func (w *wordsValue) Set(s string) error {
	w.parts = append(w.parts, s)
	return nil
}

// environMap returns the non-empty CACHESRV_ variables. As with os.Getenv,
// the first of duplicate entries wins.
func environMap(environ []string) map[string]string {
	m := make(map[string]string)
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "CACHESRV_") || v == "" {
			continue
		}
		if _, dup := m[k]; !dup {
			m[k] = v
		}
	}
	return m
}

// readFile reads a YAML config file through viper. Keys are lower-cased.
func readFile(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config file: %w", err)
	}
	v := viper.New()
	v.SetConfigType("yaml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("parse config file %s: %w", path, err)
	}
	return v.AllSettings(), nil
}

// fileValue turns a decoded YAML value into the string a flag would carry.
func fileValue(p *param, v any) (string, error) {
	if !p.list {
		return yamlScalar(v)
	}
	switch v := v.(type) {
	case []any:
		words := make([]string, 0, len(v))
		for _, e := range v {
			if pair, ok := e.([]any); ok { // [OLD, NEW]
				var ws []string
				for _, x := range pair {
					s, err := yamlScalar(x)
					if err != nil {
						return "", err
					}
					ws = append(ws, s)
				}
				words = append(words, splitargs.Join(ws))
				continue
			}
			s, err := yamlScalar(e)
			if err != nil {
				return "", err
			}
			words = append(words, s) // may hold several words: "OLD NEW"
		}
		return strings.Join(words, " "), nil
	case map[string]any:
		var words []string
		for _, k := range slices.Sorted(maps.Keys(v)) {
			s, err := yamlScalar(v[k])
			if err != nil {
				return "", err
			}
			words = append(words, k, s)
		}
		return splitargs.Join(words), nil
	}
	return yamlScalar(v)
}

func yamlScalar(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool:
		return formatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case uint64:
		return strconv.FormatUint(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case []any, map[string]any:
		return "", errors.New("argument must be a single value, not a " + yamlKind(v))
	}
	return fmt.Sprint(v), nil
}

func yamlKind(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case map[string]any:
		return "mapping"
	}
	return "value"
}

func shorten(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// Usage returns the --help text: how settings are given and one line per
// setting with its default.
func Usage() string {
	var b strings.Builder
	b.WriteString(`Usage: cachesrv [--config FILE] [--SETTING VALUE]...

cachesrv is a Redis-compatible cache server. Each setting is taken from the
first of: the command line (--name VALUE or --name=VALUE), the environment
(CACHESRV_NAME: upper case, dashes as underscores), the YAML file named by
--config or CACHESRV_CONFIG, and the default shown below. Byte sizes take
Redis units: 1k = 1000, 1kb = 1024, likewise m/mb and g/gb. Settings marked
* can be changed at run time with CONFIG SET.

Options:
  -h, --help          print this help and exit
  -v, --version       print the version and exit
      --config FILE   YAML configuration file
`)
	width := 0
	for _, p := range table {
		width = max(width, len(p.Name)+1+len(p.Type))
	}
	section := ""
	for _, p := range table {
		if p.section != section {
			section = p.section
			fmt.Fprintf(&b, "\n%s:\n", section)
		}
		mark := ' '
		if p.Mutable {
			mark = '*'
		}
		fmt.Fprintf(&b, "%c --%-*s  %s", mark, width, p.Name+" "+p.Type, p.Doc)
		if p.Default != "" {
			fmt.Fprintf(&b, " (default %s)", p.Default)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
