import SluiceBase
import SluiceChunk
import SluiceMeta
import SluiceObject
import SluiceVFS

/// A volume opened without a mount, for maintenance commands (gc, fsck): its metadata, its
/// settings and its object store stack (with the cipher of an encrypted volume).
struct OfflineVolume {
    let engine: any KVEngine
    let meta: MetaClient
    let settings: VolumeSettings
    let store: any ObjectStore
    let layout: BlockLayout

    /// `needsPrivateKey`: whether the command reads block contents (and so must decrypt).
    init(metaURL: String, keyOption: String?, needsPrivateKey: Bool) throws {
        engine = try MetaEngines.open(url: metaURL, create: false)
        do {
            meta = MetaClient(engine: engine)
            settings = try meta.settings()
            let cipher = try VolumeStore.cipher(for: settings, keyFile: VolumeStore.keyFile(option: keyOption),
                                                requirePrivateKey: needsPrivateKey)
            store = try VolumeStore.open(settings, cipher: cipher)
            layout = BlockLayout(volume: settings.name, blockSize: settings.blockSize)
        } catch {
            engine.close()
            throw error
        }
    }

    func close() { engine.close() }
}
