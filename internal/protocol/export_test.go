package protocol

import "github.com/cachesrv/cachesrv/internal/acl"

// ResetACLForTest puts the users back to a lone default user for
// requirepass (tests that let clients run arbitrary ACL commands).
func (s *Server) ResetACLForTest(requirepass string) {
	s.acl.Replace(map[string]*acl.User{"default": s.acl.Table().DefaultUser(requirepass)})
}
