package dev.imagegen.local.djl;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes small ONNX models from Java, protobuf bytes by hand (onnx.proto field numbers as listed in
 * protocols/local-sdxl.md §4): IR 8, opset 17. Test code only.
 */
final class OnnxWriter {

  /** A protobuf message under construction. */
  static final class Pb {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    private void raw(long v) {
      while ((v & ~0x7FL) != 0) {
        out.write((int) ((v & 0x7F) | 0x80));
        v >>>= 7;
      }
      out.write((int) v);
    }

    Pb varint(int field, long v) {
      raw((long) field << 3);
      raw(v);
      return this;
    }

    Pb bytes(int field, byte[] b) {
      raw(((long) field << 3) | 2);
      raw(b.length);
      out.write(b, 0, b.length);
      return this;
    }

    Pb string(int field, String s) {
      return bytes(field, s.getBytes(StandardCharsets.UTF_8));
    }

    Pb message(int field, Pb m) {
      return bytes(field, m.toBytes());
    }

    Pb fixed32(int field, float f) {
      raw(((long) field << 3) | 5);
      int bits = Float.floatToIntBits(f);
      for (int i = 0; i < 4; i++) {
        out.write((bits >>> (8 * i)) & 0xff);
      }
      return this;
    }

    byte[] toBytes() {
      return out.toByteArray();
    }
  }

  /** A graph under construction. */
  static final class Graph {
    final Pb g = new Pb();
    private int n;

    Graph(String name) {
      g.string(2, name);
    }

    /** A tensor-typed input; each dim is a Long/Integer (fixed) or a String (symbolic). */
    Graph input(String name, int elemType, Object... dims) {
      g.message(11, valueInfo(name, elemType, dims));
      return this;
    }

    Graph output(String name, int elemType, Object... dims) {
      g.message(12, valueInfo(name, elemType, dims));
      return this;
    }

    Graph floats(String name, long[] dims, float... values) {
      ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
      for (float v : values) {
        b.putFloat(v);
      }
      g.message(5, tensor(name, dims, OnnxHeader.FLOAT).bytes(9, b.array()));
      return this;
    }

    Graph halfs(String name, long[] dims, float... values) {
      ByteBuffer b = ByteBuffer.allocate(values.length * 2).order(ByteOrder.LITTLE_ENDIAN);
      for (float v : values) {
        b.putShort(Half.fromFloat(v));
      }
      g.message(5, tensor(name, dims, OnnxHeader.FLOAT16).bytes(9, b.array()));
      return this;
    }

    Graph longs(String name, long[] dims, long... values) {
      ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
      for (long v : values) {
        b.putLong(v);
      }
      g.message(5, tensor(name, dims, OnnxHeader.INT64).bytes(9, b.array()));
      return this;
    }

    /** A float initializer kept in an external file (written by the caller). */
    Graph externalFloats(String name, long[] dims, String location, long offset, long length) {
      Pb t = tensor(name, dims, OnnxHeader.FLOAT)
          .message(13, new Pb().string(1, "location").string(2, location))
          .message(13, new Pb().string(1, "offset").string(2, Long.toString(offset)))
          .message(13, new Pb().string(1, "length").string(2, Long.toString(length)))
          .varint(14, 1);
      g.message(5, t);
      return this;
    }

    /** A node; attributes are Pb AttributeProtos made with {@link #attrInt} and friends. */
    Graph node(String op, String[] inputs, String[] outputs, Pb... attrs) {
      Pb node = new Pb();
      for (String i : inputs) {
        node.string(1, i);
      }
      for (String o : outputs) {
        node.string(2, o);
      }
      node.string(3, op + "_" + (n++));
      node.string(4, op);
      for (Pb a : attrs) {
        node.message(5, a);
      }
      g.message(1, node);
      return this;
    }

    Graph node(String op, String input, String output, Pb... attrs) {
      return node(op, new String[] {input}, new String[] {output}, attrs);
    }

    /** The ModelProto bytes: IR 8, default-domain opset 17. */
    byte[] model() {
      return new Pb().varint(1, 8).string(2, "imagegen-test").message(7, g)
          .message(8, new Pb().string(1, "").varint(2, 17)).toBytes();
    }

    void write(Path file) throws IOException {
      Files.createDirectories(file.getParent());
      Files.write(file, model());
    }
  }

  static Pb attrInt(String name, long v) {
    return new Pb().string(1, name).varint(3, v).varint(20, 2);
  }

  static Pb attrFloat(String name, float v) {
    return new Pb().string(1, name).fixed32(2, v).varint(20, 1);
  }

  static Pb attrString(String name, String v) {
    return new Pb().string(1, name).string(4, v).varint(20, 3);
  }

  static Pb attrInts(String name, long... v) {
    Pb a = new Pb().string(1, name);
    for (long x : v) {
      a.varint(8, x);
    }
    return a.varint(20, 7);
  }

  private static Pb tensor(String name, long[] dims, int type) {
    Pb t = new Pb();
    for (long d : dims) {
      t.varint(1, d);
    }
    return t.varint(2, type).string(8, name);
  }

  private static Pb valueInfo(String name, int elemType, Object... dims) {
    Pb shape = new Pb();
    for (Object d : dims) {
      Pb dim = new Pb();
      if (d instanceof String s) {
        dim.string(2, s);
      } else {
        dim.varint(1, ((Number) d).longValue());
      }
      shape.message(1, dim);
    }
    Pb tensor = new Pb().varint(1, elemType).message(2, shape);
    Pb type = new Pb().message(1, tensor);
    return new Pb().string(1, name).message(2, type);
  }

  private OnnxWriter() {}
}
