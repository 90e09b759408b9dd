// The JSON shapes of the REST/JSON API (protos/ferry/v1, contract field names). Only what the UI
// reads; proto3 leaves out default values, so every field may be missing (an id 0, false, "").

/** The server URL the API gives the cluster ferry runs in (named "in-cluster"). */
export const IN_CLUSTER = "https://kubernetes.default.svc";

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  deletionTimestamp?: string;
}

export interface ApplicationSourcePluginParameter {
  name?: string;
  string?: string;
  array?: string[];
  map?: Record<string, string>;
}

export interface ApplicationSourcePlugin {
  name?: string;
  env?: { name?: string; value?: string }[];
  parameters?: ApplicationSourcePluginParameter[];
}

export interface ApplicationSource {
  repoURL?: string;
  path?: string;
  targetRevision?: string;
  chart?: string;
  plugin?: ApplicationSourcePlugin;
}

export interface ApplicationDestination {
  server?: string;
  namespace?: string;
  name?: string;
}

export interface SyncPolicy {
  automated?: { prune?: boolean; selfHeal?: boolean; allowEmpty?: boolean; enabled?: boolean };
  syncOptions?: string[];
}

export interface ApplicationSpec {
  source?: ApplicationSource;
  destination?: ApplicationDestination;
  project?: string;
  syncPolicy?: SyncPolicy;
}

export interface HealthStatus {
  status?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface ResourceStatus {
  group?: string;
  version?: string;
  kind: string;
  namespace?: string;
  name: string;
  status?: string;
  health?: HealthStatus;
  hook?: boolean;
  requiresPruning?: boolean;
  syncWave?: number | string;
}

export interface OperationInitiator {
  username?: string;
  automated?: boolean;
}

export interface RevisionHistory {
  id?: number | string;
  revision?: string;
  deployedAt?: string;
  deployStartedAt?: string;
  source?: ApplicationSource;
  initiatedBy?: OperationInitiator;
}

export interface ApplicationCondition {
  type: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface ResourceResult {
  group?: string;
  version?: string;
  kind: string;
  namespace?: string;
  name: string;
  status?: string;
  message?: string;
  hookType?: string;
  hookPhase?: string;
  syncPhase?: string;
}

export interface OperationState {
  operation?: {
    sync?: {
      revision?: string;
      prune?: boolean;
      dryRun?: boolean;
      syncOptions?: string[];
      resources?: { group?: string; kind: string; name: string; namespace?: string }[];
    };
    initiatedBy?: OperationInitiator;
  };
  phase?: string;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
  retryCount?: number | string;
  syncResult?: { resources?: ResourceResult[]; revision?: string; source?: ApplicationSource };
}

export interface ApplicationStatus {
  resources?: ResourceStatus[];
  sync?: { status?: string; revision?: string };
  health?: HealthStatus;
  history?: RevisionHistory[];
  conditions?: ApplicationCondition[];
  reconciledAt?: string;
  operationState?: OperationState;
  sourceType?: string;
  summary?: { externalURLs?: string[]; images?: string[] };
}

export interface Application {
  metadata: ObjectMeta;
  spec: ApplicationSpec;
  status?: ApplicationStatus;
  operation?: unknown;
}

export interface ApplicationList {
  metadata?: { resourceVersion?: string; continue?: string; remainingItemCount?: number | string };
  items?: Application[];
}

export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  application: Application;
}

export interface ResourceRef {
  group?: string;
  version?: string;
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
}

export interface ResourceNode extends ResourceRef {
  parentRefs?: ResourceRef[];
  info?: { name: string; value: string }[];
  images?: string[];
  health?: HealthStatus;
  resourceVersion?: string;
  createdAt?: string;
}

export interface ApplicationTree {
  nodes?: ResourceNode[];
  orphanedNodes?: ResourceNode[];
}

export interface ResourceDiff {
  group?: string;
  kind: string;
  namespace?: string;
  name: string;
  targetState?: string;
  liveState?: string;
  normalizedLiveState?: string;
  predictedLiveState?: string;
  hook?: boolean;
  modified?: boolean;
  resourceVersion?: string;
}

export interface Repository {
  repo: string;
  type?: string;
  name?: string;
  project?: string;
  insecure?: boolean;
  hasCredentials?: boolean;
  connectionState?: { status?: string; message?: string; attemptedAt?: string };
}

export interface Cluster {
  server: string;
  name?: string;
  namespaces?: string[];
  info?: {
    serverVersion?: string;
    applicationsCount?: number | string;
    connectionState?: { status?: string; message?: string };
  };
}

export interface AppProject {
  metadata: ObjectMeta;
  spec?: {
    description?: string;
    sourceRepos?: string[];
    destinations?: ApplicationDestination[];
  };
}

/** GET /api/v1/settings, public: what the login page needs before anyone logs in. */
export interface Settings {
  url?: string;
  userLoginsDisabled?: boolean;
  oidcConfig?: { name?: string; issuer?: string; clientID?: string; loginURL?: string };
  dexConfig?: { connectors?: { name?: string; type?: string }[] };
}

export interface UserInfo {
  loggedIn?: boolean;
  username?: string;
  groups?: string[];
}

export interface KubeEvent {
  metadata?: ObjectMeta;
  involvedObject?: { kind?: string; namespace?: string; name?: string; uid?: string; fieldPath?: string };
  reason?: string;
  message?: string;
  source?: { component?: string; host?: string };
  firstTimestamp?: string;
  lastTimestamp?: string;
  eventTime?: string;
  count?: number;
  type?: string;
  reportingComponent?: string;
}

export interface EventList {
  metadata?: { resourceVersion?: string };
  items?: KubeEvent[];
}

export interface LogEntry {
  content?: string;
  timeStamp?: string;
  last?: boolean;
  podName?: string;
}

export interface RevisionMetadata {
  author?: string;
  date?: string;
  tags?: string[];
  message?: string;
}
