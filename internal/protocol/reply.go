package protocol

import (
	"math"
	"strconv"

	"github.com/tidwall/redcon"
)

// Reply writers. RESP2 encodings come from redcon's appenders; RESP3 types
// (maps, sets, nulls, doubles, booleans, verbatim strings) are written here
// and fall back to their RESP2 forms on RESP2 connections, as Redis does.

func (c *Client) addOK()              { c.out = redcon.AppendOK(c.out) }
func (c *Client) addSimple(s string)  { c.out = redcon.AppendString(c.out, s) }
func (c *Client) addInt(n int64)      { c.out = redcon.AppendInt(c.out, n) }
func (c *Client) addBulk(b []byte)    { c.out = redcon.AppendBulk(c.out, b) }
func (c *Client) addBulkStr(s string) { c.out = redcon.AppendBulkString(c.out, s) }
func (c *Client) addArray(n int)      { c.out = redcon.AppendArray(c.out, n) }
func (c *Client) addQueued()          { c.out = append(c.out, "+QUEUED\r\n"...) }
func (c *Client) addBulkStrs(ss ...string) {
	c.addArray(len(ss))
	for _, s := range ss {
		c.addBulkStr(s)
	}
}

// addError writes an error reply and counts it by its prefix (errorstats).
func (c *Client) addError(msg string) {
	c.out = redcon.AppendError(c.out, msg)
	c.failed = true
	c.srv.stats.countError(msg)
}

// addNull writes the null bulk string ($-1 in RESP2, _ in RESP3).
func (c *Client) addNull() {
	if c.resp == 3 {
		c.out = append(c.out, "_\r\n"...)
		return
	}
	c.out = append(c.out, "$-1\r\n"...)
}

// addNullArray writes the null array (*-1 in RESP2, _ in RESP3).
func (c *Client) addNullArray() {
	if c.resp == 3 {
		c.out = append(c.out, "_\r\n"...)
		return
	}
	c.out = append(c.out, "*-1\r\n"...)
}

// addMap writes a map header of n pairs (a flat array of 2n in RESP2).
func (c *Client) addMap(n int) {
	if c.resp == 3 {
		c.out = appendHeader(c.out, '%', n)
		return
	}
	c.addArray(2 * n)
}

// addSet writes a set header (an array in RESP2).
func (c *Client) addSet(n int) {
	if c.resp == 3 {
		c.out = appendHeader(c.out, '~', n)
		return
	}
	c.addArray(n)
}

// addDouble writes a double (a bulk string in RESP2), formatted as Redis
// formats them ("%.17g" trimmed to the shortest exact form).
func (c *Client) addDouble(f float64) {
	b := formatDouble(c.scratch[:0], f)
	if c.resp == 3 {
		c.out = append(c.out, ',')
		c.out = append(c.out, b...)
		c.out = append(c.out, '\r', '\n')
		return
	}
	c.addBulk(b)
}

// addVerbatim writes a verbatim text string (a bulk string in RESP2).
func (c *Client) addVerbatim(s string) {
	if c.resp == 3 {
		c.out = appendHeader(c.out, '=', len(s)+4)
		c.out = append(c.out, "txt:"...)
		c.out = append(c.out, s...)
		c.out = append(c.out, '\r', '\n')
		return
	}
	c.addBulkStr(s)
}

func appendHeader(b []byte, t byte, n int) []byte {
	b = append(b, t)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

// formatDouble formats like Redis's INCRBYFLOAT/HINCRBYFLOAT replies (the
// shortest representation that round-trips, no exponent for normal ranges).
func formatDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	case math.IsNaN(f):
		return append(dst, "nan"...)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e17 {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}
