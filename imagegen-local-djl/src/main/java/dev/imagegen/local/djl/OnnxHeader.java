package dev.imagegen.local.djl;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * What an ONNX graph declares about itself, read from {@code model.onnx} without loading weights:
 * the protobuf is walked field by field (onnx.proto field numbers) and every tensor payload and
 * node is skipped by seeking, so a file of several GB costs a few thousand small reads.
 *
 * @param irVersion the IR version
 * @param opset the default-domain opset, or 0 when absent
 * @param inputs graph inputs that are not initializers, in order
 * @param outputs graph outputs, in order
 * @param externalData the files that initializers keep their data in ({@code location}), relative to the graph
 */
record OnnxHeader(long irVersion, long opset, List<ValueInfo> inputs, List<ValueInfo> outputs, Set<String> externalData) {

  /** ONNX TensorProto element types this engine reads or writes. */
  static final int FLOAT = 1;
  static final int INT32 = 6;
  static final int INT64 = 7;
  static final int FLOAT16 = 10;
  static final int DOUBLE = 11;

  /**
   * One input or output.
   *
   * @param name its name
   * @param elemType the element type (1 float, 7 int64, 10 float16...), 0 when not a tensor
   * @param dims each dimension: a fixed size, or -1 when symbolic or unknown; null when the rank is unknown
   * @param dimNames each dimension's symbolic name, or "" when fixed
   */
  record ValueInfo(String name, int elemType, long @Nullable [] dims, List<String> dimNames) {
    int rank() {
      return dims == null ? -1 : dims.length;
    }

    /** The size of dimension {@code i}, or -1 when it is unknown or symbolic. */
    long dim(int i) {
      long[] d = dims;
      return d == null || i >= d.length ? -1 : d[i];
    }

    boolean isFloat() {
      return elemType == FLOAT || elemType == FLOAT16;
    }
  }

  /** The input of that name, or null. */
  @Nullable ValueInfo input(String name) {
    return inputs.stream().filter(v -> v.name().equals(name)).findFirst().orElse(null);
  }

  /** The output of that name, or null. */
  @Nullable ValueInfo output(String name) {
    return outputs.stream().filter(v -> v.name().equals(name)).findFirst().orElse(null);
  }

  /** A readable name of an element type. */
  static String typeName(int t) {
    return switch (t) {
      case FLOAT -> "float32";
      case 2 -> "uint8";
      case 3 -> "int8";
      case INT32 -> "int32";
      case INT64 -> "int64";
      case 9 -> "bool";
      case FLOAT16 -> "float16";
      case DOUBLE -> "float64";
      case 16 -> "bfloat16";
      case 0 -> "not a tensor";
      default -> "type " + t;
    };
  }

  /**
   * Reads the header of an ONNX file.
   *
   * @param file the {@code .onnx} file
   * @throws IOException when the file cannot be read or is not an ONNX protobuf
   */
  static OnnxHeader read(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      Reader r = new Reader(ch);
      long ir = 0;
      long opset = 0;
      Graph graph = null;
      long end = ch.size();
      while (r.pos < end) {
        long tag = r.varint();
        int field = (int) (tag >>> 3);
        int wire = (int) (tag & 7);
        if (field == 1 && wire == 0) {
          ir = r.varint();
        } else if (field == 8 && wire == 2) {
          long len = r.varint();
          long stop = r.pos + len;
          String domain = "";
          long version = 0;
          while (r.pos < stop) {
            long t = r.varint();
            if (t >>> 3 == 1 && (t & 7) == 2) {
              domain = r.string();
            } else if (t >>> 3 == 2 && (t & 7) == 0) {
              version = r.varint();
            } else {
              r.skip((int) (t & 7));
            }
          }
          if (domain.isEmpty() || domain.equals("ai.onnx")) {
            opset = version;
          }
        } else if (field == 7 && wire == 2) {
          long len = r.varint();
          graph = readGraph(r, r.pos + len);
        } else {
          r.skip(wire);
        }
      }
      if (graph == null) {
        throw new IOException("no graph in " + file.getFileName() + " (not an ONNX model?)");
      }
      List<ValueInfo> inputs = new ArrayList<>();
      for (ValueInfo v : graph.inputs) {
        if (!graph.initializers.contains(v.name())) {
          inputs.add(v);
        }
      }
      return new OnnxHeader(ir, opset, List.copyOf(inputs), List.copyOf(graph.outputs), Set.copyOf(graph.external));
    } catch (IllegalStateException e) {
      throw new IOException(file.getFileName() + " is not a valid ONNX protobuf: " + e.getMessage(), e);
    }
  }

  private static final class Graph {
    final List<ValueInfo> inputs = new ArrayList<>();
    final List<ValueInfo> outputs = new ArrayList<>();
    final Set<String> initializers = new HashSet<>();
    final Set<String> external = new LinkedHashSet<>();
  }

  private static Graph readGraph(Reader r, long end) throws IOException {
    Graph g = new Graph();
    while (r.pos < end) {
      long tag = r.varint();
      int field = (int) (tag >>> 3);
      int wire = (int) (tag & 7);
      if (wire == 2 && (field == 11 || field == 12)) {
        long len = r.varint();
        ValueInfo v = readValueInfo(r, r.pos + len);
        (field == 11 ? g.inputs : g.outputs).add(v);
      } else if (wire == 2 && field == 5) {
        long len = r.varint();
        readInitializer(r, r.pos + len, g);
      } else {
        r.skip(wire);
      }
    }
    r.pos = end;
    return g;
  }

  private static void readInitializer(Reader r, long end, Graph g) throws IOException {
    while (r.pos < end) {
      long tag = r.varint();
      int field = (int) (tag >>> 3);
      int wire = (int) (tag & 7);
      if (field == 8 && wire == 2) {
        g.initializers.add(r.string());
      } else if (field == 13 && wire == 2) {
        long len = r.varint();
        long stop = r.pos + len;
        String key = "";
        String value = "";
        while (r.pos < stop) {
          long t = r.varint();
          if (t >>> 3 == 1 && (t & 7) == 2) {
            key = r.string();
          } else if (t >>> 3 == 2 && (t & 7) == 2) {
            value = r.string();
          } else {
            r.skip((int) (t & 7));
          }
        }
        if (key.equals("location")) {
          g.external.add(value);
        }
      } else {
        r.skip(wire);
      }
    }
    r.pos = end;
  }

  private static ValueInfo readValueInfo(Reader r, long end) throws IOException {
    String name = "";
    int elemType = 0;
    List<Long> dims = null;
    List<String> dimNames = new ArrayList<>();
    while (r.pos < end) {
      long tag = r.varint();
      int field = (int) (tag >>> 3);
      int wire = (int) (tag & 7);
      if (field == 1 && wire == 2) {
        name = r.string();
      } else if (field == 2 && wire == 2) {
        long typeEnd = r.pos + r.varint();
        while (r.pos < typeEnd) {
          long t = r.varint();
          if (t >>> 3 == 1 && (t & 7) == 2) { // tensor_type
            long tensorEnd = r.pos + r.varint();
            while (r.pos < tensorEnd) {
              long tt = r.varint();
              if (tt >>> 3 == 1 && (tt & 7) == 0) {
                elemType = (int) r.varint();
              } else if (tt >>> 3 == 2 && (tt & 7) == 2) { // shape
                dims = new ArrayList<>();
                long shapeEnd = r.pos + r.varint();
                while (r.pos < shapeEnd) {
                  long st = r.varint();
                  if (st >>> 3 == 1 && (st & 7) == 2) { // dim
                    long dimEnd = r.pos + r.varint();
                    long value = -1;
                    String param = "";
                    while (r.pos < dimEnd) {
                      long dt = r.varint();
                      if (dt >>> 3 == 1 && (dt & 7) == 0) {
                        value = r.varint();
                      } else if (dt >>> 3 == 2 && (dt & 7) == 2) {
                        param = r.string();
                      } else {
                        r.skip((int) (dt & 7));
                      }
                    }
                    dims.add(value);
                    dimNames.add(param);
                  } else {
                    r.skip((int) (st & 7));
                  }
                }
              } else {
                r.skip((int) (tt & 7));
              }
            }
          } else {
            r.skip((int) (t & 7));
          }
        }
      } else {
        r.skip(wire);
      }
    }
    r.pos = end;
    long[] d = dims == null ? null : dims.stream().mapToLong(Long::longValue).toArray();
    return new ValueInfo(name, elemType, d, List.copyOf(dimNames));
  }

  /** A forward reader over a file channel with a small window; skips by moving the position. */
  private static final class Reader {
    private final FileChannel ch;
    private final ByteBuffer buf = ByteBuffer.allocate(1 << 16);
    private long bufStart = -1;
    private int bufLen;
    long pos;

    Reader(FileChannel ch) {
      this.ch = ch;
    }

    int read() throws IOException {
      if (bufStart < 0 || pos < bufStart || pos >= bufStart + bufLen) {
        buf.clear();
        bufStart = pos;
        int n = ch.read(buf, pos);
        if (n <= 0) {
          throw new IllegalStateException("truncated at byte " + pos);
        }
        bufLen = n;
      }
      int b = buf.get((int) (pos - bufStart)) & 0xff;
      pos++;
      return b;
    }

    long varint() throws IOException {
      long v = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        int b = read();
        v |= (long) (b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
          return v;
        }
      }
      throw new IllegalStateException("malformed varint at byte " + pos);
    }

    String string() throws IOException {
      long len = varint();
      if (len > 1 << 20) {
        throw new IllegalStateException("string of " + len + " bytes at byte " + pos);
      }
      byte[] b = new byte[(int) len];
      for (int i = 0; i < b.length; i++) {
        b[i] = (byte) read();
      }
      return new String(b, StandardCharsets.UTF_8);
    }

    void skip(int wire) throws IOException {
      switch (wire) {
        case 0 -> varint();
        case 1 -> pos += 8;
        case 2 -> {
          long len = varint();
          if (len < 0) {
            throw new IllegalStateException("negative length at byte " + pos);
          }
          pos += len;
        }
        case 5 -> pos += 4;
        default -> throw new IllegalStateException("unsupported wire type " + wire + " at byte " + pos);
      }
      if (pos > ch.size()) {
        throw new IllegalStateException("field runs past the end of the file");
      }
    }
  }
}
