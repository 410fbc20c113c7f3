package protocol

import (
	"errors"
	"strconv"

	"github.com/cachesrv/cachesrv/internal/origin"
	"github.com/cachesrv/cachesrv/internal/store"
	"github.com/cachesrv/cachesrv/internal/tags"
)

// The one place where errors of the packages below the wire become RESP
// error replies. Sentinels are matched with errors.Is, so a wrapped
// sentinel ("store value: %w") gets the same reply; anything else is an
// "ERR <text>" reply (or, from an origin, an "ORIGIN" one).

const errOOMTooLarge = "OOM value is larger than maxmemory"

// replyErr writes the RESP error reply for err.
func (c *Client) replyErr(err error) {
	switch {
	case errors.Is(err, store.ErrTooLarge):
		c.addError(errOOMTooLarge)
	case errors.Is(err, store.ErrKeyTooLarge):
		c.addError(errStrTooBig)
	case errors.Is(err, tags.ErrTooManyTags):
		perKey, _ := c.srv.tags.Limits()
		c.addError("ERR too many tags (tags-max-per-key is " + strconv.Itoa(perKey) + ")")
	case errors.Is(err, tags.ErrTagTooLong):
		_, maxLen := c.srv.tags.Limits()
		c.addError("ERR tag too long (tag-max-len is " + strconv.Itoa(maxLen) + ")")
	case errors.Is(err, tags.ErrEmptyTag):
		c.addError("ERR tag must not be empty")
	default:
		var oe *origin.Error
		if errors.As(err, &oe) {
			c.addError(oe.Error())
			return
		}
		c.addError("ERR " + err.Error())
	}
}
