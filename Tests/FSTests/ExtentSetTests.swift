@testable import FS
import Testing

@Suite struct ExtentSetTests {
    @Test func insertMergesOverlappingAndTouchingExtents() {
        var set = ExtentSet()
        set.insert(10..<20)
        set.insert(30..<40)
        #expect(set.extents == [10..<20, 30..<40])
        set.insert(20..<30)
        #expect(set.extents == [10..<40], "touching extents merge")
        set.insert(5..<12)
        set.insert(38..<50)
        #expect(set.extents == [5..<50])
        set.insert(60..<61)
        set.insert(0..<1)
        #expect(set.extents == [0..<1, 5..<50, 60..<61])
    }

    @Test func piecesAlternateBetweenWrittenAndNot() {
        var set = ExtentSet()
        set.insert(10..<20)
        set.insert(30..<40)
        let pieces = set.pieces(of: 0..<50).map { [$0.range.lowerBound, $0.range.upperBound, $0.written ? 1 : 0] }
        #expect(pieces == [[0, 10, 0], [10, 20, 1], [20, 30, 0], [30, 40, 1], [40, 50, 0]])
        #expect(set.pieces(of: 15..<35).map(\.written) == [true, false, true])
        #expect(set.intersects(19..<21) && !set.intersects(20..<30) && set.covers(31..<39) && !set.covers(15..<35))
    }

    @Test func truncationDropsWhatLiesBeyond() {
        var set = ExtentSet()
        set.insert(0..<100)
        set.insert(200..<300)
        set.removeAll(from: 250)
        #expect(set.extents == [0..<100, 200..<250])
        set.removeAll(from: 50)
        #expect(set.extents == [0..<50])
    }
}
