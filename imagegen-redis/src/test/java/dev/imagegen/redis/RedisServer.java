package dev.imagegen.redis;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code redis-server} on 127.0.0.1 and a free port, without persistence, for one test
 * class or one test. A missing binary fails the test with how to install it.
 */
final class RedisServer implements AutoCloseable {
  private final String binary;
  private final int port;
  private final List<String> extra;
  private final Path dir;
  private Process process;

  private RedisServer(String binary, int port, List<String> extra) throws IOException {
    this.binary = binary;
    this.port = port;
    this.extra = extra;
    this.dir = Files.createTempDirectory("imagegen-redis-test");
  }

  /** Starts a server with these extra arguments (e.g. {@code --requirepass}, {@code secret}). */
  static RedisServer start(String... extra) {
    try {
      RedisServer s = new RedisServer(binary(), freePort(), List.of(extra));
      s.startProcess();
      return s;
    } catch (IOException e) {
      throw new IllegalStateException("could not start redis-server: " + e, e);
    }
  }

  int port() {
    return port;
  }

  String url() {
    return "redis://127.0.0.1:" + port + "/0";
  }

  /** Stops the server (kills it: as a crash would). */
  void stop() {
    if (process != null) {
      process.destroyForcibly();
      try {
        process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      process = null;
    }
  }

  /** Starts it again on the same port (empty: nothing is persisted). */
  void restart() {
    stop();
    try {
      startProcess();
    } catch (IOException e) {
      throw new IllegalStateException("could not restart redis-server: " + e, e);
    }
  }

  /** Sends one command in RESP and returns the first line of the answer. */
  String command(String... args) {
    return send(false, args);
  }

  /** Sends one command whose answer is a bulk string (INFO) and returns all of it. */
  String bulk(String... args) {
    return send(true, args);
  }

  private String send(boolean whole, String... args) {
    StringBuilder b = new StringBuilder("*" + args.length + "\r\n");
    for (String a : args) {
      b.append('$').append(a.getBytes(StandardCharsets.UTF_8).length).append("\r\n").append(a).append("\r\n");
    }
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
      s.setSoTimeout(5000);
      OutputStream out = s.getOutputStream();
      String auth = password();
      if (auth != null) {
        out.write(("*2\r\n$4\r\nAUTH\r\n$" + auth.length() + "\r\n" + auth + "\r\n").getBytes(StandardCharsets.UTF_8));
      }
      out.write(b.toString().getBytes(StandardCharsets.UTF_8));
      out.flush();
      InputStream in = s.getInputStream();
      if (auth != null) {
        readLine(in);
      }
      String line = readLine(in);
      if (line.startsWith("$") && !line.equals("$-1")) {
        if (whole) {
          byte[] body = in.readNBytes(Integer.parseInt(line.substring(1)));
          return new String(body, StandardCharsets.UTF_8);
        }
        return readLine(in);
      }
      return line;
    } catch (IOException e) {
      throw new IllegalStateException("redis command " + String.join(" ", args) + " failed: " + e, e);
    }
  }

  @Override
  public void close() {
    stop();
    File[] files = dir.toFile().listFiles();
    if (files != null) {
      for (File f : files) {
        f.delete();
      }
    }
    dir.toFile().delete();
  }

  private String password() {
    int i = extra.indexOf("--requirepass");
    return i >= 0 ? extra.get(i + 1) : null;
  }

  private void startProcess() throws IOException {
    List<String> cmd = new ArrayList<>(List.of(binary, "--port", Integer.toString(port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--dir", dir.toString()));
    cmd.addAll(extra);
    process = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < until) {
      if (!process.isAlive()) {
        throw new IOException("redis-server exited at once: " + Files.readString(dir.resolve("redis.log")));
      }
      try {
        if (command("PING").equals("+PONG")) {
          return;
        }
      } catch (IllegalStateException notYet) {
        // not listening yet
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted");
      }
    }
    throw new IOException("redis-server did not answer PING on port " + port + " within 10 s");
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder b = new StringBuilder();
    for (int c; (c = in.read()) != -1; ) {
      if (c == '\r') {
        in.read();
        break;
      }
      b.append((char) c);
    }
    return b.toString();
  }

  private static String binary() {
    String path = System.getenv("PATH");
    List<String> dirs = new ArrayList<>(List.of(path == null ? new String[0] : path.split(File.pathSeparator)));
    dirs.addAll(List.of("/usr/bin", "/usr/local/bin", "/opt/homebrew/bin", "/usr/sbin"));
    for (String d : dirs) {
      File f = new File(d, "redis-server");
      if (f.canExecute()) {
        return f.getPath();
      }
    }
    throw new AssertionError("redis-server is not installed: these tests run against a real Redis. Install it "
        + "(Debian/Ubuntu: sudo apt-get install -y redis-server; macOS: brew install redis) and run them again");
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      s.setReuseAddress(true);
      return s.getLocalPort();
    }
  }
}
