package protocol

// ResetACLForTest puts the users back to a lone default user for
// requirepass (tests that let clients run arbitrary ACL commands).
func (s *Server) ResetACLForTest(requirepass string) {
	s.acl.replace(map[string]*aclUser{})
	s.acl.mu.Lock()
	s.acl.def.cur.Store(s.acl.tab.defaultUser(requirepass))
	s.acl.mu.Unlock()
}
