import type { Checkpoint, Cluster, FileListRef, OplogSlice, Snapshot } from '../domain/catalog.js';
import { FileListLineError, MAX_LISTED_FILES, parseFileList } from '../domain/file-list.js';
import { type Manifest, ManifestRejected, type SnapshotManifest } from '../domain/manifest.js';
import type { FileListObjects } from './ports.js';

/** What registering a manifest needs from the catalog. Every write is an idempotent PutItem (S3 may redeliver). */
export interface ManifestCatalog {
  getClusterById(groupId: string, clusterId: string): Promise<Cluster | undefined>;
  getClusterByName(groupId: string, name: string): Promise<Cluster | undefined>;
  putCluster(cluster: Cluster): Promise<void>;
  getSnapshot(snapshotId: string): Promise<Snapshot | undefined>;
  putSnapshot(snapshot: Snapshot): Promise<void>;
  getCheckpoint(checkpointId: string): Promise<Checkpoint | undefined>;
  putOplogSlice(slice: OplogSlice): Promise<void>;
  putCheckpoint(checkpoint: Checkpoint): Promise<void>;
}

/** The manifest object itself: an inline file list is read back from it, and must still be this version. */
export interface ManifestSource {
  readonly key: string;
  readonly etag: string;
}

export interface Registered {
  readonly kind: Manifest['kind'];
  readonly id: string;
  readonly groupId: string;
}

/**
 * Registers a parsed manifest. A manifest that contradicts the catalog (unknown cluster, parts on a replica set,
 * a renamed cluster…) is a ManifestRejected; catalog failures propagate as they are (transient: retry).
 */
export async function ingestManifest(
  deps: { catalog: ManifestCatalog; fileLists: FileListObjects },
  manifest: Manifest,
  source: ManifestSource,
): Promise<Registered> {
  const registered = { kind: manifest.kind, id: manifest.id, groupId: manifest.groupId };
  switch (manifest.kind) {
    case 'cluster': {
      const { kind: _kind, ...cluster } = manifest;
      const [byId, byName] = await Promise.all([
        deps.catalog.getClusterById(cluster.groupId, cluster.id),
        deps.catalog.getClusterByName(cluster.groupId, cluster.name),
      ]);
      // Clusters are stored by id and by name: a rename would leave the old name answering.
      if (byId !== undefined && byId.name !== cluster.name) reject('cluster already registered under another name');
      if (byName !== undefined && byName.id !== cluster.id) reject('cluster name already taken in the group');
      await deps.catalog.putCluster(cluster);
      return registered;
    }
    case 'snapshot': {
      const { kind: _kind, files: _files, filesKey: _filesKey, ...fields } = manifest;
      const cluster = await clusterOf(deps.catalog, manifest);
      const sharded = cluster.typeName === 'SHARDED_CLUSTER';
      if (sharded && fields.parts === undefined) reject('a sharded cluster snapshot lists its parts');
      if (!sharded && fields.parts !== undefined) reject('only a sharded cluster snapshot has parts');
      const members = new Set(cluster.shardClusterIds);
      if (cluster.configServerClusterId !== undefined) members.add(cluster.configServerClusterId);
      if (sharded && members.size === 0) reject('register the sharded cluster with its shards and config server first');
      if (fields.parts?.some((part) => !members.has(part.clusterId))) {
        reject('a part names a cluster that is not a shard or config server of the cluster');
      }
      // Snapshot ids are global keys: one group's manifest must never take over another's snapshot.
      const existing = await deps.catalog.getSnapshot(fields.id);
      if (existing !== undefined && (existing.groupId !== fields.groupId || existing.clusterId !== fields.clusterId)) {
        reject('a snapshot with this id belongs to another cluster', 'id');
      }
      const replicaSetName = fields.replicaSetName ?? cluster.replicaSetName;
      // Last: reading a file list is the expensive part. The item keeps a reference to the list, never the list.
      const fileList = fields.parts === undefined ? await fileListOf(deps.fileLists, manifest, source) : undefined;
      const snapshot: Snapshot = {
        ...fields,
        created: fields.created ?? fields.timestamp.date,
        encryptionEnabled: fields.encryptionEnabled ?? false,
        ...(replicaSetName !== undefined && { replicaSetName }),
        ...(fileList !== undefined && { fileList }),
      };
      await deps.catalog.putSnapshot(snapshot);
      return registered;
    }
    case 'oplog': {
      const { kind: _kind, ...slice } = manifest;
      const cluster = await clusterOf(deps.catalog, manifest);
      if (cluster.typeName === 'SHARDED_CLUSTER') reject('oplog slices belong to a replica set, not a sharded cluster');
      await deps.catalog.putOplogSlice(slice);
      return registered;
    }
    case 'checkpoint': {
      const { kind: _kind, ...checkpoint } = manifest;
      const cluster = await clusterOf(deps.catalog, manifest);
      if (cluster.typeName !== 'SHARDED_CLUSTER') reject('checkpoints belong to a sharded cluster');
      const existing = await deps.catalog.getCheckpoint(checkpoint.id);
      if (
        existing !== undefined &&
        (existing.groupId !== checkpoint.groupId || existing.clusterId !== checkpoint.clusterId)
      ) {
        reject('a checkpoint with this id belongs to another cluster', 'id');
      }
      await deps.catalog.putCheckpoint(checkpoint);
      return registered;
    }
  }
}

/**
 * The reference the snapshot item keeps: to the manifest itself for inline files (already validated with it), or
 * to the NDJSON file-list object, read once here line by line (memory: the set of names) and validated whole.
 */
async function fileListOf(
  fileLists: FileListObjects,
  manifest: SnapshotManifest,
  source: ManifestSource,
): Promise<FileListRef> {
  if (manifest.filesKey === undefined) {
    const files = manifest.files ?? [];
    const sizeBytes = files.reduce((sum, file) => sum + file.sizeBytes, 0);
    return { format: 'manifest', key: source.key, etag: source.etag, count: files.length, sizeBytes };
  }
  const key = manifest.filesKey;
  const opened = await fileLists.open(key);
  if (opened === undefined) reject('the file list object does not exist (upload it before the manifest)', 'filesKey');
  const names = new Set<string>();
  let sizeBytes = 0;
  try {
    for await (const { lineNumber, file } of parseFileList(opened.body)) {
      if (names.size === MAX_LISTED_FILES) {
        throw new FileListLineError(lineNumber, `more than ${MAX_LISTED_FILES} files`);
      }
      if (names.has(file.name)) throw new FileListLineError(lineNumber, 'name: duplicate');
      names.add(file.name);
      sizeBytes += file.sizeBytes;
    }
  } catch (error) {
    if (!(error instanceof FileListLineError)) throw error;
    reject(`invalid file list, ${error.message}`, 'filesKey');
  }
  return { format: 'ndjson', key, etag: opened.etag, count: names.size, sizeBytes };
}

async function clusterOf(catalog: ManifestCatalog, ref: { groupId: string; clusterId: string }): Promise<Cluster> {
  const cluster = await catalog.getClusterById(ref.groupId, ref.clusterId);
  if (cluster === undefined) reject('unknown cluster (register it with a cluster manifest first)', 'clusterId');
  return cluster;
}

function reject(reason: string, path?: string): never {
  throw new ManifestRejected(reason, path === undefined ? [] : [{ path, message: reason }]);
}
