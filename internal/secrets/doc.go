// Package secrets reads and writes ansible-vault files and hashes passwords
// for the stack's users.
//
// The vault format is byte-compatible with Ansible's (format versions 1.1
// and 1.2, cipher AES256), so a team can keep using ansible-vault on the
// same files. The plaintext of a vault is a YAML mapping of secret names to
// values, as an Ansible vars file is. Password hashing covers sha512-crypt
// ($6$, for system and htpasswd-style users) and MariaDB's
// mysql_native_password.
package secrets
