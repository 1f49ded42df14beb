package kos.protobuf;

import com.google.protobuf.DescriptorProtos.FileDescriptorProto;
import com.google.protobuf.DescriptorProtos.FileDescriptorSet;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.DescriptorValidationException;
import com.google.protobuf.Descriptors.FileDescriptor;
import com.google.protobuf.InvalidProtocolBufferException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Message descriptors from a {@code FileDescriptorSet}: what {@code protoc --include_imports
 * --descriptor_set_out} writes. A set is parsed once per JVM (driver or executor), whatever asks for it.
 */
final class DescriptorSets {
  private DescriptorSets() {
  }

  private static final Map<String, List<FileDescriptor>> PARSED = new ConcurrentHashMap<>();

  /** A digest of the set's bytes: the key it is cached under, and what a UDF carries to find it again. */
  static String digest(byte[] descriptorSet) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(descriptorSet));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The top-level message called {@code name}: its full name, or its simple name (the first such, as Spark). */
  static Descriptor find(byte[] descriptorSet, String name) {
    for (FileDescriptor file : files(descriptorSet)) {
      for (Descriptor message : file.getMessageTypes()) {
        if (name.equals(message.getFullName()) || name.equals(message.getName())) {
          return message;
        }
      }
    }
    throw new ProtobufException("no message " + name + " in the descriptor set");
  }

  /** The set's files, in the set's order, each built after the files it imports. */
  static List<FileDescriptor> files(byte[] descriptorSet) {
    return PARSED.computeIfAbsent(digest(descriptorSet), key -> build(descriptorSet));
  }

  private static List<FileDescriptor> build(byte[] descriptorSet) {
    FileDescriptorSet set;
    try {
      set = FileDescriptorSet.parseFrom(descriptorSet);
    } catch (InvalidProtocolBufferException e) {
      throw new ProtobufException("the descriptor set does not parse as a google.protobuf.FileDescriptorSet "
          + "(make it with protoc --include_imports --descriptor_set_out=FILE)");
    }
    Map<String, FileDescriptorProto> protos = new LinkedHashMap<>();
    for (FileDescriptorProto proto : set.getFileList()) {
      protos.put(proto.getName(), proto);
    }
    Map<String, FileDescriptor> built = new LinkedHashMap<>();
    for (FileDescriptorProto proto : set.getFileList()) {
      add(proto.getName(), protos, built, new ArrayDeque<>());
    }
    List<FileDescriptor> inOrder = new ArrayList<>();
    for (FileDescriptorProto proto : set.getFileList()) {
      inOrder.add(built.get(proto.getName()));
    }
    return List.copyOf(inOrder);
  }

  private static FileDescriptor add(String name, Map<String, FileDescriptorProto> protos,
                                    Map<String, FileDescriptor> built, Deque<String> chain) {
    FileDescriptor done = built.get(name);
    if (done != null) {
      return done;
    }
    FileDescriptorProto proto = protos.get(name);
    if (proto == null) {
      throw new ProtobufException("the descriptor set lacks " + name + ", imported by "
          + (chain.isEmpty() ? "it" : chain.peekLast()) + ": build it with --include_imports");
    }
    if (chain.contains(name)) {
      throw new ProtobufException("the descriptor set's " + name + " imports itself through " + chain.peekLast());
    }
    chain.addLast(name);
    FileDescriptor[] dependencies = new FileDescriptor[proto.getDependencyCount()];
    for (int i = 0; i < dependencies.length; i++) {
      dependencies[i] = add(proto.getDependency(i), protos, built, chain);
    }
    chain.removeLast();
    try {
      FileDescriptor file = FileDescriptor.buildFrom(proto, dependencies);
      built.put(name, file);
      return file;
    } catch (DescriptorValidationException e) {
      throw new ProtobufException("the descriptor set's " + name + " is not valid: " + e.getMessage());
    }
  }
}
