package secrets

import "errors"

// What a damaged or foreign vault can and cannot tell us.
//
// The format authenticates the ciphertext with an HMAC keyed from the
// password, and stores nothing else that depends on the password. So:
//
//   - A missing or misspelt header, an unknown version or an unknown cipher
//     are told apart from the header line alone (ErrNotVault, ErrHeader,
//     ErrVersion, ErrCipher).
//   - A body that is empty, not hex, of odd length, missing one of its three
//     fields, with an HMAC that is not 32 bytes, or with a ciphertext that is
//     not a whole number of AES blocks is damaged (ErrCorrupt). This catches
//     most truncations and stray edits of the hex text.
//   - A wrong password, a changed salt, a changed HMAC, a changed ciphertext
//     byte, and a truncation that happens to land on a block boundary all
//     end the same way: the HMAC does not match. Nothing in the file lets us
//     tell these apart, so ErrDecrypt names both causes.
//   - ErrPadding means the HMAC matched (right password, untouched bytes) but
//     the plaintext was not padded as Ansible pads it: the writer was broken.
var (
	// ErrNotVault means the data does not start with $ANSIBLE_VAULT.
	ErrNotVault = errors.New("not an ansible-vault file (no $ANSIBLE_VAULT header); " +
		"check the path, or encrypt the file first with ansible-vault encrypt")
	// ErrHeader means the first line starts with $ANSIBLE_VAULT but is not a
	// well-formed header.
	ErrHeader = errors.New("malformed vault header, want $ANSIBLE_VAULT;1.1;AES256 or " +
		"$ANSIBLE_VAULT;1.2;AES256;LABEL; restore the first line from version control")
	// ErrVersion means the header names a format version other than 1.1 or 1.2.
	ErrVersion = errors.New("unsupported vault format version (only 1.1 and 1.2 are supported); " +
		"re-encrypt the file with a current ansible-vault rekey")
	// ErrCipher means the header names a cipher other than AES256.
	ErrCipher = errors.New("unsupported vault cipher (only AES256 is supported); " +
		"re-encrypt the file with a current ansible-vault rekey")
	// ErrCorrupt means the encrypted body is truncated, not hex, or missing a field.
	ErrCorrupt = errors.New("vault body is damaged (truncated, not hex, or missing a field); " +
		"restore the file from version control or a backup")
	// ErrDecrypt means the HMAC did not match. A wrong password and a modified
	// file cannot be told apart: see the comment above.
	ErrDecrypt = errors.New("wrong vault password or the vault was modified; " +
		"check the password file (TRIO_VAULT_PASSWORD_FILE) and, if the password is right, " +
		"restore the file from version control")
	// ErrPadding means the data was authentic but its padding was invalid.
	ErrPadding = errors.New("vault decrypted but its padding is invalid, so it was written by a faulty tool; " +
		"re-create it with ansible-vault encrypt")
	// ErrAlreadyEncrypted means Encrypt was given data that is already a vault,
	// which Ansible refuses too.
	ErrAlreadyEncrypted = errors.New("input is already vault-encrypted; " +
		"decrypt it first if you meant to re-encrypt it")
	// ErrLabel means a vault-id label cannot be written into a 1.2 header.
	ErrLabel = errors.New("invalid vault-id label; use printable ASCII without spaces, ';' or '@', e.g. prod")

	// ErrEmptyPassword means a password source produced an empty password.
	ErrEmptyPassword = errors.New("empty vault password; put a non-empty password in the password file or type one")
	// ErrNoPassword means no password source was configured and prompting was
	// not possible.
	ErrNoPassword = errors.New("no vault password: pass a password file, set TRIO_VAULT_PASSWORD_FILE, " +
		"or run on a terminal to be prompted")
	// ErrPasswordMismatch means the two typed passwords differ.
	ErrPasswordMismatch = errors.New("passwords do not match; type the same password twice")
	// ErrPasswordScript means a password script failed or found no secret.
	ErrPasswordScript = errors.New("vault password script failed; run it by hand to see why, " +
		"or remove its executable bit if it is a plain password file")
	// ErrInterrupted means the password prompt was cancelled.
	ErrInterrupted = errors.New("password prompt interrupted; run the command again to retry")

	// ErrSecretsFormat means a vault's plaintext is not a YAML mapping of
	// names to scalar values.
	ErrSecretsFormat = errors.New("vault plaintext must be a YAML mapping of secret names to strings, " +
		"one `name: value` per line; fix it with trio secrets edit or ansible-vault edit")
	// ErrInlineFormat means a snippet is not one `name: !vault |` value.
	ErrInlineFormat = errors.New("not an encrypted string; paste the whole output of " +
		"ansible-vault encrypt_string, starting at `name: !vault |`")

	// ErrEditor means the editor exited with an error; nothing was saved.
	ErrEditor = errors.New("editor failed, nothing was saved; fix $EDITOR or quit the editor normally to save")

	// ErrCryptSalt means a sha512-crypt salt contains a character that would
	// break the hash string.
	ErrCryptSalt = errors.New("invalid sha512-crypt salt; use up to 16 characters from ./0-9A-Za-z")
	// ErrCryptRounds means a negative rounds count was given.
	ErrCryptRounds = errors.New("invalid sha512-crypt rounds; use 0 for the default or 1000..999999999")
)
