/* unpack.h — archives unpacked into a host directory with libarchive (unpack.c), and the pieces
 * of that an image layer unpacker stands on: the entry-path sanitiser, the check that no
 * directory on the way to an entry is a symlink, and the libarchive glue (also used by the tar
 * export of overlay.c). */
#ifndef MJ_UNPACK_H
#define MJ_UNPACK_H

#include <moonjail/moonjail.h>
#include <stdbool.h>
#include <sys/types.h>

struct archive;

typedef struct {
    uint64_t max_bytes;         /* bytes of file data in all; 0 = 4 GiB */
    uint64_t max_entries;       /* 0 = 1,000,000 */
    unsigned strip_components;  /* as tar's: entries with no more components are skipped */
} mj_unpack_limits_t;

/* Unpacks an archive into the existing directory dest_dir: tar (plain, gzip, bzip2, xz, lzma,
 * lzip, zstd, lz4, compress), zip, 7z, cpio, ar, cab, iso9660, lha, rar, xar, warc — every format
 * libarchive reads in-process except mtree, whose entries name host files to copy in.
 * lim NULL = the defaults.  Refused with INVALID_CONFIG naming the archive and the entry:
 * absolute names, ".." components, a path through a symlink (extracted or not), hard links whose
 * target is outside or missing, devices, fifos and sockets.  Owners are not restored; modes keep
 * only their permission bits (no setuid, setgid, sticky); times are kept.
 * RESOURCE_LIMIT_EXCEEDED naming the budget.  On failure dest_dir may hold part of the archive
 * (the caller removes it). */
int mj_unpack_archive(const char *archive_path, const char *dest_dir, const mj_unpack_limits_t *lim,
                      mj_error_t **err);

/* Cleans an entry's name: "./a//b" -> "a/b"; strips the first strip components.  0 with *out
 * (malloc'ed; NULL when nothing is left: the entry is skipped), or -1 with *why ("has no name",
 * "is an absolute path", "has a '..' component"). */
int mj_unpack_entry_path(const char *raw, unsigned strip, char **out, const char **why);

/* 0 when no directory on the way to rel (inside the directory dest_fd) is a symlink; -1 with errno
 * ELOOP when one is, other errno when the walk itself fails.  With check_last the last component
 * must exist and be no directory (a hardlink's target; EISDIR), and *last_mode gets its mode. */
int mj_unpack_check_parents(int dest_fd, const char *rel, bool check_last, mode_t *last_mode);

/* What an entry of libarchive file type type (AE_IFCHR, …) is, for messages: "fifo", … */
const char *mj_unpack_type_word(mode_t type);

/* libarchive's error text for a (never NULL). */
const char *mj_archive_why(struct archive *a);
/* Frees a writer (NULL is a no-op): for __attribute__((cleanup)). */
void mj_archive_write_freep(struct archive **a);
#define cleanup_archive_write __attribute__((cleanup(mj_archive_write_freep)))

#endif
