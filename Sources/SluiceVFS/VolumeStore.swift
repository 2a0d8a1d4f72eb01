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
        let backend = try ObjectStores.open(storage: settings.storage, bucket: settings.bucket)
        return CodecStore(InstrumentedStore(backend), compression: compression)
    }
}
