import SluiceBase
import SluiceMeta
import SluiceObject

/// The object store stack a volume's settings call for: the backend (file, mem…), counted in
/// `OperationStats`, under the block codec (compression and checksums).
public enum VolumeStore {
    public static func open(_ settings: VolumeSettings) throws -> any ObjectStore {
        guard let compression = Compression(rawValue: settings.compression) else {
            throw UsageError("unsupported compression \"\(settings.compression)\" in the volume settings")
        }
        let backend = try ObjectStores.open(storage: settings.storage, bucket: settings.bucket,
                                            options: storeOptions(settings))
        return CodecStore(InstrumentedStore(backend), compression: compression)
    }

    /// The credentials and region stored at format; nil ones fall back to the environment.
    public static func storeOptions(_ settings: VolumeSettings) -> StoreOptions {
        StoreOptions(accessKey: settings.accessKey, secretKey: settings.secretKey, region: settings.region)
    }
}
