// mount.bitgask STORE MOUNTPOINT [-o opt,opt...] [-f]
//
// Also installed as mount.fuse.bitgask, the helper mount(8) runs for
// `mount -t fuse.bitgask STORE MNT -o ...` and fstab lines of that type; it
// then also accepts mount(8)'s helper flags -t TYPE and -f (fake: check
// everything, mount nothing), per mount(8)'s helper interface.  mount(8)'s
// -n, -s, -v are ignored under either name (`mount -t bitgask` runs
// mount.bitgask itself, where -f stays "foreground").
//
// Mounts the bitgask store at STORE (created if missing) on MOUNTPOINT.
// Without -f the program forks: the child (setsid) opens the store, creates
// the FUSE session and mounts, then reports success or failure through a pipe;
// the parent waits for that status byte and exits 0 or 1, so when it returns
// 0 the mount is ready.  All threads (engine, FUSE loop) are created after the
// fork, in the child.  SIGTERM/SIGINT/SIGHUP or `fusermount3 -u` end the loop;
// the store is then closed (synced) and the program exits 0.
#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../fs/bitgask_fs.h"
#include "../fs/fs_log.h"
#include "../fs/mount_options.h"
#include "../server/password_file.h"
#include "../server/server.h"
#include "bitgask/db.h"

namespace {

const char* kProg = "mount.bitgask";

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: %s STORE MOUNTPOINT [-o opt,opt...] [-f]\n"
               "  -f   stay in the foreground\n"
               "  -o   any engine option by name (sync_on_put=BOOL, merge_interval=DURATION,\n"
               "       max_data_file_size=N[K|M|G], ... see docs/Options.md),\n"
               "       uid=USER, gid=GROUP, umask=OCTAL, nonempty,\n"
               "       allow_other, default_permissions, ro, debug,\n"
               "       and generic mount/fstab words (defaults, _netdev, nofail, noauto, ...)\n",
               kProg);
}

std::string Absolute(const std::string& p) {
  if (!p.empty() && p[0] == '/') return p;
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) return p;
  return std::string(cwd) + "/" + p;
}

// "" when path is an existing directory, empty unless nonempty, else why not.
std::string CheckMountpoint(const std::string& path, bool nonempty) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return "mountpoint " + path + ": " + std::strerror(errno);
  if (!S_ISDIR(st.st_mode)) return "mountpoint " + path + " is not a directory";
  DIR* d = opendir(path.c_str());
  if (d == nullptr) return "mountpoint " + path + ": " + std::strerror(errno);
  bool empty = true;
  while (struct dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  closedir(d);
  if (!empty && !nonempty)
    return "mountpoint " + path + " is not empty (use -o nonempty to mount over it)";
  return "";
}

// fsname value: commas and backslashes escaped for FUSE's option parser.
std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ',' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

void Report(int fd, char status) {
  if (fd < 0) return;
  ssize_t n;
  do {
    n = write(fd, &status, 1);
  } while (n < 0 && errno == EINTR);
  close(fd);
}

// Opens the store, mounts and serves until unmounted.  status_fd (or -1 with
// -f) receives '0' once mounted or '1' on failure.  Returns the exit code.
int Serve(const std::string& store, const std::string& mnt, const bitgask::fs::MountOptions& mo,
          int status_fd) {
  std::unique_ptr<bitgask::DB> db;
  bitgask::Status s = bitgask::DB::Open(store, mo.engine, &db);
  if (!s.ok()) {
    if (s.IsLocked())
      std::fprintf(stderr, "%s: store %s is locked by another process (already mounted?): %s\n",
                   kProg, store.c_str(), s.ToString().c_str());
    else
      std::fprintf(stderr, "%s: cannot open store %s: %s\n", kProg, store.c_str(),
                   s.ToString().c_str());
    Report(status_fd, '1');
    return 1;
  }
  bitgask::fs::BitgaskFs fs(db.get(), store, mo.fs);

  // The Redis protocol from this process too (the store's lock allows one
  // process): every key it changes is invalidated in the kernel's caches.
  std::unique_ptr<bitgask::server::Server> resp;
  if (!mo.resp_addr.empty()) {
    bitgask::server::ServerOptions so;
    so.addr = mo.resp_addr;
    so.requirepass = mo.resp_requirepass;
    so.store_path = store;
    so.on_change = [&fs](std::string_view key) { fs.InvalidateKey(std::string(key)); };
    resp = std::make_unique<bitgask::server::Server>(db.get(), so);
    s = resp->Start();
    if (!s.ok()) {
      std::fprintf(stderr, "%s: cannot serve RESP on %s: %s\n", kProg, mo.resp_addr.c_str(),
                   s.message().c_str());
      resp.reset();
      db->Close();
      Report(status_fd, '1');
      return 1;
    }
  }
  auto stop_resp = [&resp] {
    if (resp) {
      resp->Stop();
      resp->Wait();
      resp.reset();
    }
  };

  std::string opts = "fsname=bitgask:" + Escape(store) + ",subtype=bitgask";
  for (auto& o : mo.fuse) opts += "," + o;
  std::vector<std::string> argv_s = {kProg, "-o", opts};
  if (mo.debug) argv_s.push_back("-d");
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(&a[0]);
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());

  fuse_session* se = fuse_session_new(&args, bitgask::fs::BitgaskFs::Ops(),
                                      sizeof(fuse_lowlevel_ops), &fs);
  fuse_opt_free_args(&args);  // the session keeps what it needs
  if (se == nullptr) {
    std::fprintf(stderr, "%s: cannot create the FUSE session\n", kProg);
    stop_resp();
    db->Close();
    Report(status_fd, '1');
    return 1;
  }
  fs.SetSession(se);
  if (fuse_set_signal_handlers(se) != 0) {
    std::fprintf(stderr, "%s: cannot set signal handlers\n", kProg);
    fuse_session_destroy(se);
    stop_resp();
    db->Close();
    Report(status_fd, '1');
    return 1;
  }
  if (fuse_session_mount(se, mnt.c_str()) != 0) {
    std::fprintf(stderr, "%s: cannot mount on %s (see the message above)\n", kProg, mnt.c_str());
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    stop_resp();
    db->Close();
    Report(status_fd, '1');
    return 1;
  }
  if (status_fd >= 0) {
    // Detached: the parent is about to exit; stop using its terminal.
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
      dup2(null, 0);
      dup2(null, 1);
      if (!mo.debug) dup2(null, 2);
      if (null > 2) close(null);
    }
    if (chdir("/") != 0) { /* harmless */ }
    if (!mo.debug) bitgask::fs::UseSyslog();  // stderr is /dev/null from here on
    Report(status_fd, '0');
  }

  fuse_loop_config cfg;
  std::memset(&cfg, 0, sizeof(cfg));
  cfg.clone_fd = 0;
  cfg.max_idle_threads = 10;
  int rc = fuse_session_loop_mt(se, &cfg);

  stop_resp();  // before the session goes: its on_change notifies the kernel
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  fs.SetSession(nullptr);
  fuse_session_destroy(se);
  s = db->Close();
  if (!s.ok()) {
    std::fprintf(stderr, "%s: closing the store: %s\n", kProg, s.ToString().c_str());
    return 1;
  }
  return rc < 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> positional;
  bitgask::fs::MountOptions mo;
  bool foreground = false, fake = false;
  const char* slash = std::strrchr(argv[0], '/');
  const bool as_helper = std::strncmp(slash ? slash + 1 : argv[0], "mount.fuse.", 11) == 0;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    std::string list;
    if (a == "-h" || a == "--help") {
      Usage(stdout);
      return 0;
    } else if (a == "-f") {
      (as_helper ? fake : foreground) = true;
      continue;
    } else if (a == "-n" || a == "-s" || a == "-v") {
      // mount(8): no mtab, sloppy, verbose.  Also under this program's own
      // name, which `mount -t bitgask` runs (but there -f stays foreground).
      continue;
    } else if (as_helper && a == "-t") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: -t needs an argument\n", kProg);
        return 1;
      }
      const std::string type = argv[++i];
      if (type != "fuse.bitgask" && type != "bitgask") {
        std::fprintf(stderr, "%s: cannot mount type %s\n", kProg, type.c_str());
        return 1;
      }
      continue;
    } else if (a == "-o") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s: -o needs an argument\n", kProg);
        return 1;
      }
      list = argv[++i];
    } else if (a.size() > 2 && a.compare(0, 2, "-o") == 0) {
      list = a.substr(2);
    } else if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "%s: unknown flag %s\n", kProg, a.c_str());
      Usage(stderr);
      return 1;
    } else {
      positional.push_back(a);
      continue;
    }
    std::string err;
    if (!bitgask::fs::ParseMountOptions(list, &mo, &err)) {
      std::fprintf(stderr, "%s: %s\n", kProg, err.c_str());
      return 1;
    }
  }
  if (positional.size() != 2) {
    Usage(stderr);
    return 1;
  }
  const std::string store = Absolute(positional[0]);
  const std::string mnt = Absolute(positional[1]);
  std::string why = CheckMountpoint(mnt, mo.nonempty);
  if (!why.empty()) {
    std::fprintf(stderr, "%s: %s\n", kProg, why.c_str());
    return 1;
  }
  if (!mo.resp_requirepass_file.empty()) {  // read here: the daemon works from /
    bitgask::Status s =
        bitgask::server::ReadPasswordFile(mo.resp_requirepass_file, &mo.resp_requirepass);
    if (!s.ok()) {
      std::fprintf(stderr, "%s: resp_requirepass_file: %s\n", kProg, s.message().c_str());
      return 1;
    }
  }
  if (fake) return 0;

  if (foreground) return Serve(store, mnt, mo, -1);

  int fds[2];
  if (pipe(fds) != 0) {
    std::perror("mount.bitgask: pipe");
    return 1;
  }
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    std::perror("mount.bitgask: fork");
    return 1;
  }
  if (pid == 0) {
    close(fds[0]);
    setsid();
    return Serve(store, mnt, mo, fds[1]);
  }
  close(fds[1]);
  char status = '1';
  ssize_t n;
  do {
    n = read(fds[0], &status, 1);
  } while (n < 0 && errno == EINTR);
  close(fds[0]);
  if (n == 1 && status == '0') return 0;
  if (n != 1) std::fprintf(stderr, "%s: the mount process ended before the mount was ready\n", kProg);
  return 1;
}
