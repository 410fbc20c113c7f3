package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

const fileHeader = `# cachesrv configuration (YAML).
#
# Every setting is listed with a one-line description. A setting may also be
# given on the command line as --name VALUE or in the environment as
# CACHESRV_NAME (upper case, dashes as underscores); both take precedence over
# this file. Byte sizes take Redis units: 1k = 1000, 1kb = 1024, likewise m/mb
# and g/gb. Settings marked (runtime) can be changed with CONFIG SET, and
# CONFIG REWRITE writes the current values back in this format.
`

// sampleHeader heads configs/cachesrv.yaml.
const sampleHeader = fileHeader + `#
# This sample holds the defaults and is generated from internal/config; after
# changing a setting there, run
#   go test ./internal/config -run TestSampleConfig -update
`

// rewriteHeader heads files written by Rewrite.
const rewriteHeader = fileHeader + `#
# Written by CONFIG REWRITE: comments and unknown keys are not preserved.
`

// marshalYAML writes every setting of c, grouped by section, each preceded
// by its documentation.
func (c *Config) marshalYAML(header string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header)
	section := ""
	for _, p := range table {
		if p.section != section {
			section = p.section
			fmt.Fprintf(&b, "\n## %s\n", section)
		}
		v, err := p.yaml(c)
		if err != nil {
			return nil, &ParamError{Name: p.Name, Err: err}
		}
		runtime := ""
		if p.Mutable {
			runtime = " (runtime)"
		}
		sep := " "
		if strings.HasPrefix(v, "\n") {
			sep = ""
		}
		fmt.Fprintf(&b, "\n# %s%s\n%s:%s%s\n", p.Doc, runtime, p.Name, sep, v)
	}
	return b.Bytes(), nil
}

// Rewrite implements CONFIG REWRITE: it writes every setting of c as YAML,
// in the format of configs/cachesrv.yaml, to path, or to c.ConfigFile when
// path is "" (ErrNoConfigFile if both are empty). The file is replaced
// atomically, keeping its permissions (0600 for a new file, since it may hold
// requirepass); a symbolic link is followed. Comments and unknown keys of the
// old file are not preserved. An invalid c is not written.
func (c *Config) Rewrite(path string) error {
	if path == "" {
		path = c.ConfigFile
	}
	if path == "" {
		return ErrNoConfigFile
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("rewrite config: %w", err)
	}
	data, err := c.marshalYAML(rewriteHeader)
	if err != nil {
		return fmt.Errorf("rewrite config: %w", err)
	}
	if data, err = keepOriginSections(path, data); err != nil {
		return fmt.Errorf("rewrite config: %w", err)
	}
	if err := writeFileAtomic(path, data); err != nil {
		return fmt.Errorf("rewrite config: %w", err)
	}
	return nil
}

// writeFileAtomic replaces path with data through a synced temporary file in
// the same directory and a rename.
func writeFileAtomic(path string, data []byte) (err error) {
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	perm := fs.FileMode(0o600)
	if st, err := os.Stat(path); err == nil {
		perm = st.Mode().Perm()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	// Make the rename durable; not every platform can sync a directory.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
