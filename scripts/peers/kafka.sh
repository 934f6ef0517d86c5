#!/usr/bin/env bash
# Fetches Apache Kafka (broker + KRaft controller) jars from Maven Central into
# $BIFROST_PEERS_DIR/kafka-<version>/libs, once. Needs a JDK (17+) and Maven; on Debian as root they
# are installed with apt when missing. Idempotent: a finished download is marked by a stamp file.
# The testkit's Kafka peer (packages/connector-testkit/src/peers/kafka.ts) runs these jars with
# `java -cp 'libs/*' kafka.Kafka`.
set -euo pipefail

KAFKA_VERSION="${BIFROST_KAFKA_VERSION:-3.9.1}"
SCALA_VERSION="2.13"
peers_dir="${BIFROST_PEERS_DIR:-$HOME/.cache/bifrost-peers}"
home="$peers_dir/kafka-$KAFKA_VERSION"
stamp="$home/.complete"

if [ -f "$stamp" ]; then
  echo "[kafka] $KAFKA_VERSION already in $home"
  exit 0
fi

if ! command -v java >/dev/null || ! command -v mvn >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless maven >/dev/null
  else
    echo "[kafka] needs java (17+) and mvn on PATH (Debian: apt-get install default-jre-headless maven)" >&2
    exit 1
  fi
fi

mkdir -p "$home"
# A throwaway project whose only job is to resolve kafka_2.13 and its runtime dependencies.
cat >"$home/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.bifrost.peers</groupId>
  <artifactId>kafka-peer</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_${SCALA_VERSION}</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <!-- The broker logs through SLF4J; this binding writes to the peer's log file via log4j 1 (reload4j). -->
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version>
    </dependency>
  </dependencies>
</project>
EOF

rm -rf "$home/libs.tmp"
echo "[kafka] resolving kafka_${SCALA_VERSION}:${KAFKA_VERSION} from Maven Central (once)"
mvn -B -q -f "$home/pom.xml" \
  org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$home/libs.tmp"
rm -rf "$home/libs"
mv "$home/libs.tmp" "$home/libs"

if ! java -cp "$home/libs/*" kafka.tools.StorageTool --help >/dev/null 2>&1; then
  echo "[kafka] kafka.tools.StorageTool does not run from the resolved jars in $home/libs" >&2
  exit 1
fi

echo "$KAFKA_VERSION" >"$stamp"
echo "[kafka] $KAFKA_VERSION ready in $home ($(ls "$home/libs" | wc -l) jars)"
